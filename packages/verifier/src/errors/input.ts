import { BaseError } from "./base.js";

export type InvalidInputErrorType = InvalidInputError & { name: "InvalidInputError" };

/** Malformed input: not bytes, wrong length, unparsable JSON, unknown enum. Names the offending field. */
export class InvalidInputError extends BaseError {
  override name = "InvalidInputError";
  readonly field: string;
  constructor(field: string, problem: string, opts: { cause?: unknown; metaMessages?: string[] } = {}) {
    super(`Invalid ${field}: ${problem}`, {
      code: "invalid_input",
      cause: opts.cause,
      details: opts.cause instanceof Error ? opts.cause.message : undefined,
      metaMessages: opts.metaMessages,
      docsPath: "errors",
    });
    this.field = field;
  }
}

export type InputTooLargeErrorType = InputTooLargeError & { name: "InputTooLargeError" };

/** An input larger than its documented limit (see `LIMITS`), refused before it is parsed. */
export class InputTooLargeError extends InvalidInputError {
  override name = "InputTooLargeError";
  readonly limit: number;
  constructor(field: string, size: number, limit: number) {
    super(field, `${size} bytes exceeds the ${limit}-byte limit`);
    this.limit = limit;
  }
}

export type CollateralUnavailableErrorType = CollateralUnavailableError & {
  name: "CollateralUnavailableError";
};

/** No collateral was given for a quote and no `CollateralSource` could provide it. */
export class CollateralUnavailableError extends BaseError {
  override name = "CollateralUnavailableError";
  constructor(problem: string, opts: { cause?: unknown; metaMessages?: string[] | undefined } = {}) {
    super(`Collateral unavailable: ${problem}`, {
      code: "collateral_unavailable",
      cause: opts.cause,
      metaMessages: opts.metaMessages ?? [
        "Pass `collateral` as an object, or a CollateralSource whose fetcher can provide it.",
      ],
      docsPath: "collateral-and-caching",
    });
  }
}
