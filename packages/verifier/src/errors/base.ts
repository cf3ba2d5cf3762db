/** Stable machine-readable codes of the verifier's thrown errors (misuse, never an invalid proof). */
export type VerifierErrorCode = "invalid_input" | "collateral_unavailable" | "usage";

export interface BaseErrorParameters {
  cause?: unknown;
  details?: string | undefined;
  docsPath?: string | undefined;
  metaMessages?: string[] | undefined;
  code: VerifierErrorCode;
}

export type BaseErrorType = BaseError & { name: "BaseError" };

/**
 * Base class of every error the verifier throws (viem style). Invalid proofs are never thrown: they are
 * returned as `{ ok: false }` reports. Errors are thrown only for misuse: malformed input, missing options.
 */
export class BaseError extends Error {
  override name = "BaseError";
  readonly shortMessage: string;
  readonly details: string | undefined;
  readonly docsPath: string | undefined;
  readonly metaMessages: string[] | undefined;
  readonly code: VerifierErrorCode;

  constructor(shortMessage: string, params: BaseErrorParameters) {
    const lines = [shortMessage];
    if (params.metaMessages?.length) lines.push("", ...params.metaMessages);
    if (params.docsPath)
      lines.push(
        "",
        `Docs: https://github.com/chaoschain/zerog-compute/tree/main/packages/verifier#${params.docsPath}`,
      );
    if (params.details) lines.push("", `Details: ${params.details}`);
    super(lines.join("\n"), params.cause === undefined ? undefined : { cause: params.cause });
    this.shortMessage = shortMessage;
    this.details = params.details;
    this.docsPath = params.docsPath;
    this.metaMessages = params.metaMessages;
    this.code = params.code;
  }

  /** Follows `cause` to the deepest error, or the first for which `fn` returns true. */
  walk(fn?: (err: unknown) => boolean): unknown {
    let err: unknown = this;
    for (;;) {
      if (fn?.(err)) return err;
      const next = (err as { cause?: unknown } | null)?.cause;
      if (next === undefined || next === null) return fn ? null : err;
      err = next;
    }
  }
}
