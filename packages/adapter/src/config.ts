/** Adapter settings; each falls back to its environment variable, then to the default. */
export interface ZeroGComputeAdapterOptions {
  /**
   * Bridge address: `localhost:50051` (as in the original adapter), `http://host:port` or
   * `https://host`. Default: `ZEROG_GRPC_URL`, else `localhost:50051`.
   */
  grpcUrl?: string | undefined;
  /** Bearer key the bridge expects. Default: `ZEROG_API_KEY`, else none. */
  apiKey?: string | undefined;
  /** Deadline of each call and default wait of `result()`, seconds. Default: `ZEROG_TIMEOUT_SECONDS`, else 300. */
  timeoutSeconds?: number | undefined;
}

export interface ResolvedAdapterConfig {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutSeconds: number;
}

/** `localhost:50051` → `http://localhost:50051`; keeps an explicit http(s) scheme. */
export function baseUrlFromGrpcUrl(grpcUrl: string): string {
  const trimmed = grpcUrl.trim().replace(/\/+$/, "");
  if (/^https?:\/\//i.test(trimmed)) return trimmed;
  if (/^grpcs?:\/\//i.test(trimmed)) return trimmed.replace(/^grpc(s?):\/\//i, "http$1://");
  return `http://${trimmed}`;
}

/** Merges options, environment and defaults; throws on a malformed value, naming it. */
export function resolveConfig(
  options: ZeroGComputeAdapterOptions,
  env: Record<string, string | undefined> = process.env,
): ResolvedAdapterConfig {
  const grpcUrl = options.grpcUrl ?? env.ZEROG_GRPC_URL ?? "localhost:50051";
  const baseUrl = baseUrlFromGrpcUrl(grpcUrl);
  try {
    new URL(baseUrl);
  } catch {
    throw new TypeError(`grpcUrl / ZEROG_GRPC_URL is not an address: ${JSON.stringify(grpcUrl)}`);
  }
  const rawTimeout =
    options.timeoutSeconds ?? (env.ZEROG_TIMEOUT_SECONDS ? Number(env.ZEROG_TIMEOUT_SECONDS) : 300);
  if (!Number.isFinite(rawTimeout) || rawTimeout <= 0) {
    throw new RangeError(
      `timeoutSeconds / ZEROG_TIMEOUT_SECONDS must be a positive number, got ${rawTimeout}`,
    );
  }
  const apiKey = options.apiKey ?? env.ZEROG_API_KEY;
  return { baseUrl, apiKey: apiKey === "" ? undefined : apiKey, timeoutSeconds: rawTimeout };
}
