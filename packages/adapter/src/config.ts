import {
  type Collateral,
  type CollateralSource,
  type PolicyInput,
  resolvePolicy,
} from "@chaoschain/zerog-verifier";

/** How the adapter checks proofs itself (`result()` by default, and `verify()`). */
export interface VerifyOptions {
  /**
   * What to trust and require. Default: the policy in the file `ZEROG_VERIFY_POLICY` names (Node), else
   * the verifier's `defaultPolicy` (Intel's root, TDX, UpToDate TCB). A devnet's results need the devnet's
   * policy (`npm start` writes it to `.zerog/devnet-policy.json`).
   */
  policy?: PolicyInput | undefined;
  /**
   * Intel DCAP collateral for the proof's quote: an object, JSON text, or a source such as
   * `createPcsCollateralSource()`. Default: the collateral the bridge embedded in the proof.
   */
  collateral?: Collateral | string | CollateralSource | undefined;
  /** Verification time, unix seconds. Default: now. */
  now?: number | undefined;
}

/** The verification settings in force: `false` when turned off, else the options and where the policy came from. */
export type ResolvedVerifyOptions =
  | false
  | (VerifyOptions & {
      /** Where the policy came from, for messages: "verify.policy", "the policy in <file> (ZEROG_VERIFY_POLICY)", … */
      policySource: string;
    });

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
   * Largest answer read from the bridge, bytes (one message; each event of `watch()`): a larger one
   * fails the call with `resource_exhausted` before it is read whole, so that a misbehaving bridge
   * cannot fill memory. Default: `ZEROG_MAX_RESPONSE_BYTES`, else 64 MiB.
   */
  maxResponseBytes?: number | undefined;
  /**
   * How `result()` verifies every proof with `@chaoschain/zerog-verifier` before handing it out (on by
   * default: policy from here, else the file `ZEROG_VERIFY_POLICY` names, else Intel's default policy;
   * the collateral the bridge embedded in the proof). A proof that does not verify makes `result()`
   * throw `ProofVerificationError`. `false` turns it off: results then carry only the bridge's own
   * checks (`result.raw.bridgeChecks`).
   */
  verify?: VerifyOptions | false | undefined;
}

export interface ResolvedAdapterConfig {
  baseUrl: string;
  /** Not enumerable: `util.inspect`, `console.log` and `JSON.stringify` of the config leave it out. */
  apiKey: string | undefined;
  /** CA certificates to trust: PEM text, or the file to read it from. */
  ca: { pem: string | Uint8Array } | { file: string } | undefined;
  timeoutSeconds: number;
  maxRequestBytes: number;
  maxResponseBytes: number;
  verify: ResolvedVerifyOptions;
}

/** The bridge's default `readMaxBytes`. */
export const defaultMaxRequestBytes = 8 * 1024 * 1024;

/** Largest answer read by default: a result's output and proof (collateral included) take far less. */
export const defaultMaxResponseBytes = 64 * 1024 * 1024;

/** connect's largest `readMaxBytes` (a gRPC message's length is 32 bits). */
const maxReadBytes = 0xffffffff;

/** `localhost:50051` → `http://localhost:50051`; keeps an explicit http(s) scheme. */
export function baseUrlFromGrpcUrl(grpcUrl: string): string {
  const trimmed = grpcUrl.trim().replace(/\/+$/, "");
  if (/^https?:\/\//i.test(trimmed)) return trimmed;
  if (/^grpcs?:\/\//i.test(trimmed))
    return trimmed.replace(/^grpc(s?):\/\//i, (_, s: string) => `http${s.toLowerCase()}://`);
  return `http://${trimmed}`;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

/** The longest timeout, seconds: 24.8 days, 2^31 - 1 ms, the longest one timer waits. */
export const maxTimeoutSeconds = 2_147_483;

function timeout(value: number, name: string): number {
  if (positive(value, name) > maxTimeoutSeconds) {
    throw new RangeError(
      `${name} must be at most ${maxTimeoutSeconds} seconds (24.8 days, the longest a timer waits), got ${value}`,
    );
  }
  return value;
}

/** The address the calls go to; a user, password, query or fragment in it is refused. */
function bridgeUrl(grpcUrl: unknown): string {
  if (typeof grpcUrl !== "string") throw new TypeError('grpcUrl must be a string such as "localhost:50051"');
  // A scheme is "name:" not followed by a port ("localhost:50051" has none): unix:, dns:, ftp:// …
  const scheme = /^([a-z][a-z0-9+.-]*):(?!\d)/i.exec(grpcUrl.trim())?.[1];
  if (scheme && !/^(https?|grpcs?)$/i.test(scheme)) {
    throw new TypeError(
      `grpcUrl / ZEROG_GRPC_URL: the scheme ${scheme}: is not supported; give host:port, http(s):// or grpc(s)://`,
    );
  }
  const baseUrl = baseUrlFromGrpcUrl(grpcUrl);
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`grpcUrl / ZEROG_GRPC_URL is not an address: ${JSON.stringify(grpcUrl)}`);
  }
  // Transports drop them, and the address is printed in every transport error.
  if (url.username || url.password) {
    throw new TypeError(
      "grpcUrl / ZEROG_GRPC_URL must not carry a user or password: give the key as apiKey / ZEROG_API_KEY",
    );
  }
  // Calls append "/<service>/<method>": after a query or fragment, that is no longer the path.
  if (url.search || url.hash || /[?#]/.test(baseUrl)) {
    throw new TypeError(
      `grpcUrl / ZEROG_GRPC_URL must not carry a query or fragment, got ${url.origin}${url.pathname}${url.search}${url.hash}`,
    );
  }
  return baseUrl;
}

/**
 * The bearer key, trimmed: one token of visible ASCII, as `authorization: Bearer <key>` carries it
 * and the bridge reads it. A refusal never repeats the key.
 */
function bearerKey(apiKey: unknown): string | undefined {
  if (apiKey === undefined) return undefined;
  if (typeof apiKey !== "string") throw new TypeError("apiKey / ZEROG_API_KEY must be a string");
  const key = apiKey.trim();
  if (key !== "" && !/^[\x21-\x7e]+$/.test(key)) {
    throw new TypeError(
      "apiKey / ZEROG_API_KEY must be one token of visible ASCII (no spaces, line breaks, control or non-ASCII characters): check how the key was copied",
    );
  }
  return key === "" ? undefined : key;
}

/** The process environment where there is one (Node), else none (browsers). */
function processEnv(): Record<string, string | undefined> {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
}

/**
 * The verification settings: off with `verify: false`; else the given options, the policy taken from
 * the file `ZEROG_VERIFY_POLICY` names when none is given (read with `readFile`: Node only), and
 * validated here so a bad policy fails at construction, naming the field.
 */
function resolveVerify(
  verify: ZeroGComputeAdapterOptions["verify"],
  env: Record<string, string | undefined>,
  readFile: ((path: string) => string) | undefined,
): ResolvedVerifyOptions {
  if (verify === false) return false;
  if (verify !== undefined && (typeof verify !== "object" || verify === null)) {
    throw new TypeError("verify must be false or { policy?, collateral?, now? }");
  }
  const out: Exclude<ResolvedVerifyOptions, false> = {
    ...verify,
    policySource: verify?.policy === undefined ? "Intel's default policy" : "verify.policy",
  };
  const file = env.ZEROG_VERIFY_POLICY;
  if (out.policy === undefined && file && readFile) {
    let text: string;
    try {
      text = readFile(file);
    } catch (e) {
      throw new TypeError(
        `ZEROG_VERIFY_POLICY names ${file}, which cannot be read: ${(e as { code?: string }).code ?? (e as Error).message}`,
      );
    }
    try {
      out.policy = JSON.parse(text) as PolicyInput;
    } catch (e) {
      throw new TypeError(`ZEROG_VERIFY_POLICY file ${file} is not JSON: ${(e as Error).message}`);
    }
    out.policySource = `the policy in ${file} (ZEROG_VERIFY_POLICY)`;
  }
  try {
    resolvePolicy(out.policy);
  } catch (e) {
    throw new TypeError(
      `${out.policySource} is not a valid verifier policy: ${(e as { shortMessage?: string }).shortMessage ?? (e as Error).message}`,
    );
  }
  return out;
}

/**
 * Merges options, environment and defaults; throws on a malformed value, naming it. `readFile` (Node)
 * reads the policy file `ZEROG_VERIFY_POLICY` names.
 */
export function resolveConfig(
  options: ZeroGComputeAdapterOptions = {},
  env: Record<string, string | undefined> = processEnv(),
  readFile?: (path: string) => string,
): ResolvedAdapterConfig {
  if (typeof options !== "object" || options === null) {
    throw new TypeError('ZeroGComputeAdapter options must be an object, e.g. { grpcUrl: "localhost:50051" }');
  }
  const baseUrl = bridgeUrl(options.grpcUrl ?? env.ZEROG_GRPC_URL ?? "localhost:50051");
  const timeoutSeconds = timeout(
    options.timeoutSeconds ?? (env.ZEROG_TIMEOUT_SECONDS ? Number(env.ZEROG_TIMEOUT_SECONDS) : 300),
    "timeoutSeconds / ZEROG_TIMEOUT_SECONDS",
  );
  const maxRequestBytes = positive(
    options.maxRequestBytes ??
      (env.ZEROG_MAX_REQUEST_BYTES ? Number(env.ZEROG_MAX_REQUEST_BYTES) : defaultMaxRequestBytes),
    "maxRequestBytes / ZEROG_MAX_REQUEST_BYTES",
  );
  const maxResponseBytes = positive(
    options.maxResponseBytes ??
      (env.ZEROG_MAX_RESPONSE_BYTES ? Number(env.ZEROG_MAX_RESPONSE_BYTES) : defaultMaxResponseBytes),
    "maxResponseBytes / ZEROG_MAX_RESPONSE_BYTES",
  );
  if (!Number.isInteger(maxResponseBytes) || maxResponseBytes > maxReadBytes) {
    throw new RangeError(
      `maxResponseBytes / ZEROG_MAX_RESPONSE_BYTES must be a whole number of bytes up to ${maxReadBytes}, got ${maxResponseBytes}`,
    );
  }
  const apiKey = bearerKey(options.apiKey ?? env.ZEROG_API_KEY);
  const caFile = options.caFile ?? (options.ca === undefined ? env.ZEROG_CA_FILE : undefined);
  if (caFile !== undefined && typeof caFile !== "string") throw new TypeError("caFile must be a file path");
  const config = {
    baseUrl,
    ca: options.ca !== undefined ? { pem: options.ca } : caFile ? { file: caFile } : undefined,
    timeoutSeconds,
    maxRequestBytes,
    maxResponseBytes,
    verify: resolveVerify(options.verify, env, readFile),
  };
  return Object.defineProperty(config, "apiKey", {
    value: apiKey,
    enumerable: false,
  }) as ResolvedAdapterConfig;
}
