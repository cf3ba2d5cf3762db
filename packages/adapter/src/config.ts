import type { Collateral, CollateralSource, PolicyInput } from "@chaoschain/zerog-verifier";

/** How the adapter checks proofs itself (`verify()`, and `result()` when given as the `verify` option). */
export interface VerifyOptions {
  /** What to trust and require; default: the verifier's `defaultPolicy` (Intel root, UpToDate TCB). */
  policy?: PolicyInput | undefined;
  /** Intel DCAP collateral for the proof's quote: an object, JSON text, or a fetcher with a cache. */
  collateral?: Collateral | string | CollateralSource | undefined;
  /** Verification time, unix seconds. Default: now. */
  now?: number | undefined;
}

/** Adapter settings; each falls back to its environment variable, then to the default. */
export interface ZeroGComputeAdapterOptions {
  /**
   * Bridge address: `localhost:50051` (as in the original adapter), `http://host:port` or
   * `https://host` (`grpc://` and `grpcs://` too). Default: `ZEROG_GRPC_URL`, else `localhost:50051`.
   */
  grpcUrl?: string | undefined;
  /** Bearer key the bridge expects. Default: `ZEROG_API_KEY`, else none. */
  apiKey?: string | undefined;
  /**
   * Node only: a PEM file of the CA certificate(s) to trust for a `https://` / `grpcs://` bridge,
   * besides Node's own (a private CA, a self-signed bridge). Default: `ZEROG_CA_FILE`, else none.
   */
  caFile?: string | undefined;
  /** Node only: the CA certificate(s) as PEM text, instead of `caFile`. */
  ca?: string | Uint8Array | undefined;
  /** Deadline of each call and default wait of `result()`, seconds. Default: `ZEROG_TIMEOUT_SECONDS`, else 300. */
  timeoutSeconds?: number | undefined;
  /**
   * Largest request sent, bytes; a larger task is refused before any call. Default:
   * `ZEROG_MAX_REQUEST_BYTES`, else 8 MiB (the bridge's own default limit).
   */
  maxRequestBytes?: number | undefined;
  /**
   * Verify every result here before handing it out: `result()` then reports `success: false`, with
   * neither output nor proof, when the proof does not verify. Default: off (the bridge's own checks
   * are in `result.raw.bridgeChecks`).
   */
  verify?: VerifyOptions | undefined;
}

export interface ResolvedAdapterConfig {
  baseUrl: string;
  apiKey: string | undefined;
  /** CA certificates to trust: PEM text, or the file to read it from. */
  ca: { pem: string | Uint8Array } | { file: string } | undefined;
  timeoutSeconds: number;
  maxRequestBytes: number;
  verify: VerifyOptions | undefined;
}

/** The bridge's default `readMaxBytes`. */
export const defaultMaxRequestBytes = 8 * 1024 * 1024;

/** `localhost:50051` → `http://localhost:50051`; keeps an explicit http(s) scheme. */
export function baseUrlFromGrpcUrl(grpcUrl: string): string {
  const trimmed = grpcUrl.trim().replace(/\/+$/, "");
  if (/^https?:\/\//i.test(trimmed)) return trimmed;
  if (/^grpcs?:\/\//i.test(trimmed)) return trimmed.replace(/^grpc(s?):\/\//i, "http$1://");
  return `http://${trimmed}`;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** The process environment where there is one (Node), else none (browsers). */
function processEnv(): Record<string, string | undefined> {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
}

/** Merges options, environment and defaults; throws on a malformed value, naming it. */
export function resolveConfig(
  options: ZeroGComputeAdapterOptions = {},
  env: Record<string, string | undefined> = processEnv(),
): ResolvedAdapterConfig {
  if (typeof options !== "object" || options === null) {
    throw new TypeError('ZeroGComputeAdapter options must be an object, e.g. { grpcUrl: "localhost:50051" }');
  }
  const grpcUrl = options.grpcUrl ?? env.ZEROG_GRPC_URL ?? "localhost:50051";
  if (typeof grpcUrl !== "string") throw new TypeError('grpcUrl must be a string such as "localhost:50051"');
  const baseUrl = baseUrlFromGrpcUrl(grpcUrl);
  try {
    new URL(baseUrl);
  } catch {
    throw new TypeError(`grpcUrl / ZEROG_GRPC_URL is not an address: ${JSON.stringify(grpcUrl)}`);
  }
  const timeoutSeconds = positive(
    options.timeoutSeconds ?? (env.ZEROG_TIMEOUT_SECONDS ? Number(env.ZEROG_TIMEOUT_SECONDS) : 300),
    "timeoutSeconds / ZEROG_TIMEOUT_SECONDS",
  );
  const maxRequestBytes = positive(
    options.maxRequestBytes ??
      (env.ZEROG_MAX_REQUEST_BYTES ? Number(env.ZEROG_MAX_REQUEST_BYTES) : defaultMaxRequestBytes),
    "maxRequestBytes / ZEROG_MAX_REQUEST_BYTES",
  );
  const apiKey = options.apiKey ?? env.ZEROG_API_KEY;
  const caFile = options.caFile ?? (options.ca === undefined ? env.ZEROG_CA_FILE : undefined);
  if (caFile !== undefined && typeof caFile !== "string") throw new TypeError("caFile must be a file path");
  return {
    baseUrl,
    apiKey: apiKey === "" ? undefined : apiKey,
    ca: options.ca !== undefined ? { pem: options.ca } : caFile ? { file: caFile } : undefined,
    timeoutSeconds,
    maxRequestBytes,
    verify: options.verify,
  };
}
