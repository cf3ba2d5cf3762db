import type { CheckName } from "./check.js";

/** Intel TCB statuses, best first. */
export type TcbStatus =
  | "UpToDate"
  | "SWHardeningNeeded"
  | "ConfigurationNeeded"
  | "ConfigurationAndSWHardeningNeeded"
  | "OutOfDate"
  | "OutOfDateConfigurationNeeded"
  | "Revoked";

export type ReportDataBindingName = "address-ascii" | "enc-pub-v1" | "address-raw";

/** Intel SGX Root CA (DER, base64), the default trust anchor. SHA-256 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3. */
export const INTEL_SGX_ROOT_CA_BASE64 =
  "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIwaDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYTAlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi71OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOBuzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJMEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SVUr9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYIKoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwgAiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=";

/** Intel's QE vendor id (hex, uppercase). */
export const INTEL_QE_VENDOR_ID = "939A7233F79C4CA9940A0DB3957F0607";

/** The policy's TDX measurement pins and SGX enclave identity pins. */
export const TDX_PINS = ["mrtd", "rtmr0", "rtmr1", "rtmr2"] as const;
export const SGX_PINS = ["mrEnclave", "mrSigner", "isvProdIds", "minIsvSvn"] as const;

/** A JSON Web Key Set (public keys only). */
export interface Jwks {
  keys: Array<Record<string, unknown>>;
}

/**
 * Verification policy: a plain, JSON-serialisable object. Every field is optional in {@link PolicyInput};
 * missing fields take the value of {@link defaultPolicy}. Hex strings are case-insensitive, `0x` optional.
 * Unknown fields, wrong types, out-of-range numbers and empty allow-lists are errors, never ignored.
 */
export interface Policy {
  tee: {
    /** Trust anchor as PEM text (one certificate). Default: Intel SGX Root CA. */
    rootCaPem?: string | undefined;
    /** Trust anchor as DER (bytes, hex or base64 string). */
    rootCaDer?: Uint8Array | string | undefined;
    /** A quote is required for a proof to be valid (default true). */
    requireQuote: boolean;
    /** Accepted TEE types (default ["tdx"]: 0G's TEE providers are TDX, dstack). */
    allowedTeeTypes: Array<"tdx" | "sgx">;
    /** Accepted final TCB statuses (platform, QE and TDX module merged). Default ["UpToDate"]. */
    allowedTcbStatuses: TcbStatus[];
    /** When set, every advisory id the TCB level reports must be listed ([] allows none). Default: unset. */
    allowedAdvisoryIds?: string[] | undefined;
    /** Accepted QE vendor ids (hex). Default: Intel's only. */
    allowedQeVendorIds: string[];
    /** Accepted PCE ids (hex); the PCK certificate's PCEID must also equal the TCB info's. Default ["0000"]. */
    allowedPceIds: string[];
    /** Accepted report-data encodings of the enclave address. Default: all three 0G encodings. */
    reportDataBindings: ReportDataBindingName[];
    /** TDX: allow-lists of MRTD and RTMR0-2 (hex, 48 bytes). Unset = not pinned (reported as skipped). */
    mrtd?: string[] | undefined;
    rtmr0?: string[] | undefined;
    rtmr1?: string[] | undefined;
    rtmr2?: string[] | undefined;
    /** SGX: allow-lists of MRENCLAVE and MRSIGNER (hex, 32 bytes) and ISVPRODID, and the minimum ISVSVN. */
    mrEnclave?: string[] | undefined;
    mrSigner?: string[] | undefined;
    isvProdIds?: number[] | undefined;
    minIsvSvn?: number | undefined;
    /** Require the dstack event log (RTMR3 replay + compose hash) for TDX proofs (default true). */
    requireEventLog: boolean;
  };
  /** Allowed workloads, "sha256:<compose hash>" (TDX, needs the event log). Unset = not pinned. */
  dockerDigests?: string[] | undefined;
  /** Maximum age at `now` of the signed response time, seconds (default 86400). */
  maxAgeSeconds: number;
  /** Tolerated clock skew (signed time after `now`, proof `timestamp` vs signed time), seconds (default 300). */
  maxFutureSkewSeconds: number;
  /**
   * Longest generation, seconds (default 3600): the proof's `timestamp` (when the bridge received the
   * signature, after the generation) may follow the signed `created` (when the generation began) by this
   * much, plus `maxFutureSkewSeconds`.
   */
  maxGenerationSeconds: number;
  /** A proof without a signed time fails `freshness_unsigned` (default true). */
  requireFreshness: boolean;
  gpu: {
    /** Require NVIDIA GPU evidence with a valid NRAS token (default false). */
    required: boolean;
    /** Do not check GPU evidence at all, even when present (reported as skipped). Default false. */
    ignore: boolean;
    /** NRAS signing keys. Evidence present without keys to verify it fails `gpu_evidence_unverifiable`. */
    jwks?: Jwks | undefined;
    /** Accepted `iss` claims (default ["https://nras.attestation.nvidia.com"]). */
    issuers: string[];
  };
  /** Any skipped check fails the proof (`check_skipped`). Default false. */
  strict: boolean;
  /** These checks must pass; skipping one fails the proof (`check_skipped`). Default: none. */
  requiredChecks?: CheckName[] | undefined;
}

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends Array<unknown> ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

/** Caller-supplied policy: any subset of {@link Policy}. */
export type PolicyInput = DeepPartial<Policy>;

/**
 * The default policy: Intel root CA, TDX quotes only, TCB status UpToDate only, Intel QE vendor, PCE id 0000,
 * quote and event log required, measurements and docker digests not pinned, a signed response time at most
 * 24 h old, GPU evidence optional (verified when present: pass `gpu.jwks`).
 */
export const defaultPolicy: Policy = Object.freeze({
  tee: Object.freeze({
    requireQuote: true,
    allowedTeeTypes: Object.freeze(["tdx"]),
    allowedTcbStatuses: Object.freeze(["UpToDate"]),
    allowedQeVendorIds: Object.freeze([INTEL_QE_VENDOR_ID]),
    allowedPceIds: Object.freeze(["0000"]),
    reportDataBindings: Object.freeze(["address-ascii", "enc-pub-v1", "address-raw"]),
    requireEventLog: true,
  }),
  maxAgeSeconds: 86400,
  maxFutureSkewSeconds: 300,
  maxGenerationSeconds: 3600,
  requireFreshness: true,
  gpu: Object.freeze({
    required: false,
    ignore: false,
    issuers: Object.freeze(["https://nras.attestation.nvidia.com"]),
  }),
  strict: false,
}) as unknown as Policy;
