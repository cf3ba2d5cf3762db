/**
 * Base error of `@chaoschain/zerog-devnet` (viem-style): a short message, optional details,
 * fix-it hints and a stable string `code`.
 */
export type DevnetErrorCode =
  | "CHAIN_START_FAILED"
  | "CONTRACT_DEPLOY_FAILED"
  | "PROVIDER_REGISTRATION_FAILED"
  | "SIMULATOR_START_FAILED"
  | "SETTLEMENT_FAILED"
  | "SDK_ARTIFACT_NOT_FOUND";

export type DevnetErrorOptions = {
  code: DevnetErrorCode;
  details?: string | undefined;
  metaMessages?: string[] | undefined;
  cause?: unknown;
};

export class DevnetError extends Error {
  override name = "DevnetError";
  readonly shortMessage: string;
  readonly code: DevnetErrorCode;
  readonly details: string | undefined;
  readonly metaMessages: string[] | undefined;

  constructor(shortMessage: string, options: DevnetErrorOptions) {
    const lines = [shortMessage];
    if (options.metaMessages?.length) lines.push("", ...options.metaMessages);
    if (options.details) lines.push("", `Details: ${options.details}`);
    super(lines.join("\n"), options.cause === undefined ? undefined : { cause: options.cause });
    this.shortMessage = shortMessage;
    this.code = options.code;
    this.details = options.details;
    this.metaMessages = options.metaMessages;
  }

  /** Follows `cause` links and returns the deepest error (or the first one `fn` accepts). */
  walk(fn?: (err: unknown) => boolean): unknown {
    let current: unknown = this;
    while (current instanceof Error) {
      if (fn?.(current)) return current;
      if (current.cause === undefined) break;
      current = current.cause;
    }
    return fn ? undefined : current;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
