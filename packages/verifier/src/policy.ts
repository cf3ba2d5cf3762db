import { InvalidInputError } from "./errors/input.js";
import { base64ToBytes, hexToBytesStrict, isBytes, pemToDers } from "./internal/bytes.js";

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

/** A JSON Web Key Set (public keys only). */
export interface Jwks {
  keys: Array<Record<string, unknown>>;
}

/**
 * Verification policy: a plain, JSON-serialisable object. Every field is optional in {@link PolicyInput};
 * missing fields take the value of {@link defaultPolicy}. Hex strings are case-insensitive, `0x` optional.
 */
export interface Policy {
  tee: {
    /** Trust anchor as PEM text; wins over `rootCaDer`. Default: Intel SGX Root CA. */
    rootCaPem?: string | undefined;
    /** Trust anchor as DER (bytes, hex or base64 string). */
    rootCaDer?: Uint8Array | string | undefined;
    /** A quote is required for a proof to be valid (default true). */
    requireQuote: boolean;
    /** Accepted TEE types (default ["tdx", "sgx"]; proofs from 0G providers are TDX). */
    allowedTeeTypes: Array<"tdx" | "sgx">;
    /** Accepted final TCB statuses (platform merged with QE). Default ["UpToDate"]. */
    allowedTcbStatuses: TcbStatus[];
    /** When set, every advisory id the TCB level reports must be listed. Default: unset (any advisory of an allowed status). */
    allowedAdvisoryIds?: string[] | undefined;
    /** Accepted QE vendor ids (hex). Default: Intel's only. */
    allowedQeVendorIds: string[];
    /** Accepted PCE ids (hex); the PCK certificate's PCEID must also equal the TCB info's. Default ["0000"]. */
    allowedPceIds: string[];
    /** Accepted report-data encodings of the enclave address. Default: all three 0G encodings. */
    reportDataBindings: ReportDataBindingName[];
    /** Allow-lists of TDX measurements (hex, 48 bytes). Unset or empty = not pinned (reported in details). */
    mrtd?: string[] | undefined;
    rtmr0?: string[] | undefined;
    rtmr1?: string[] | undefined;
    rtmr2?: string[] | undefined;
    /** Require the dstack event log (RTMR3 replay + compose hash) for TDX proofs (default true). */
    requireEventLog: boolean;
  };
  /** Allowed workload identities ("sha256:<hex>" compose hashes / image digests). Unset = not pinned. */
  dockerDigests?: string[] | undefined;
  /** Maximum age of a proof's `timestamp` at `now`, seconds (default 86400). */
  maxAgeSeconds: number;
  /** Tolerated clock skew for timestamps in the future, seconds (default 300). */
  maxFutureSkewSeconds: number;
  gpu: {
    /** Require NVIDIA GPU evidence with a valid NRAS token (default false). */
    required: boolean;
    /** NRAS signing keys. Required to verify a token; without it a present token fails `gpu_token_invalid`. */
    jwks?: Jwks | undefined;
    /** Accepted `iss` claims (default ["https://nras.attestation.nvidia.com"]). */
    issuers: string[];
  };
}

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends Array<unknown> ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

/** Caller-supplied policy: any subset of {@link Policy}. */
export type PolicyInput = DeepPartial<Policy>;

/**
 * The default policy: Intel root CA, TCB status UpToDate only, Intel QE vendor, PCE id 0000, quote and event
 * log required, measurements and docker digests not pinned, proofs at most 24 h old, GPU evidence optional
 * (checked when present, given a JWKS).
 */
export const defaultPolicy: Policy = Object.freeze({
  tee: Object.freeze({
    requireQuote: true,
    allowedTeeTypes: ["tdx", "sgx"],
    allowedTcbStatuses: ["UpToDate"],
    allowedQeVendorIds: [INTEL_QE_VENDOR_ID],
    allowedPceIds: ["0000"],
    reportDataBindings: ["address-ascii", "enc-pub-v1", "address-raw"],
    requireEventLog: true,
  }),
  maxAgeSeconds: 86400,
  maxFutureSkewSeconds: 300,
  gpu: Object.freeze({ required: false, issuers: ["https://nras.attestation.nvidia.com"] }),
}) as Policy;

export interface ResolvedPolicy extends Policy {
  rootCa: Uint8Array;
}

const resolved = new WeakMap<object, ResolvedPolicy>();

function rootFrom(tee: PolicyInput["tee"]): Uint8Array {
  if (tee?.rootCaPem !== undefined) {
    const [der] = pemToDers(tee.rootCaPem);
    if (!der) throw new InvalidInputError("policy.tee.rootCaPem", "no PEM CERTIFICATE block");
    return der;
  }
  const d = tee?.rootCaDer;
  if (d === undefined) return base64ToBytes(INTEL_SGX_ROOT_CA_BASE64, "INTEL_SGX_ROOT_CA");
  if (isBytes(d)) return d;
  if (typeof d === "string") {
    return /^(0x)?[0-9a-fA-F]+$/.test(d.trim())
      ? hexToBytesStrict(d, "policy.tee.rootCaDer")
      : base64ToBytes(d, "policy.tee.rootCaDer");
  }
  throw new InvalidInputError("policy.tee.rootCaDer", "expected bytes, hex or base64");
}

function strings(v: unknown, field: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string"))
    throw new InvalidInputError(field, "expected an array of strings");
  return v as string[];
}

/** Merges `input` over {@link defaultPolicy} and validates it. Memoised per input object. */
export function resolvePolicy(input?: PolicyInput | undefined): ResolvedPolicy {
  const key = input ?? defaultPolicy;
  const hit = resolved.get(key);
  if (hit) return hit;
  if (input !== undefined && (typeof input !== "object" || input === null))
    throw new InvalidInputError("policy", "expected an object");
  const tee = { ...defaultPolicy.tee, ...input?.tee } as Policy["tee"];
  const gpu = { ...defaultPolicy.gpu, ...input?.gpu } as Policy["gpu"];
  for (const f of [
    "allowedTeeTypes",
    "allowedTcbStatuses",
    "allowedQeVendorIds",
    "allowedPceIds",
    "reportDataBindings",
  ] as const) {
    strings(tee[f], `policy.tee.${f}`);
  }
  for (const f of ["allowedAdvisoryIds", "mrtd", "rtmr0", "rtmr1", "rtmr2"] as const)
    strings(tee[f], `policy.tee.${f}`);
  strings(input?.dockerDigests, "policy.dockerDigests");
  if (gpu.jwks !== undefined && (typeof gpu.jwks !== "object" || !Array.isArray(gpu.jwks.keys))) {
    throw new InvalidInputError("policy.gpu.jwks", "expected { keys: [...] }");
  }
  const out: ResolvedPolicy = {
    tee,
    gpu,
    maxAgeSeconds: input?.maxAgeSeconds ?? defaultPolicy.maxAgeSeconds,
    maxFutureSkewSeconds: input?.maxFutureSkewSeconds ?? defaultPolicy.maxFutureSkewSeconds,
    rootCa: rootFrom(input?.tee),
  };
  if (input?.dockerDigests !== undefined) out.dockerDigests = input.dockerDigests;
  if (typeof out.maxAgeSeconds !== "number" || !(out.maxAgeSeconds >= 0))
    throw new InvalidInputError("policy.maxAgeSeconds", "expected a non-negative number");
  resolved.set(key, out);
  return out;
}
