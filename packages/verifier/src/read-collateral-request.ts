import type { CollateralRequest } from "./collateral.js";
import { InputTooLargeError, InvalidInputError } from "./errors/input.js";
import { LIMITS } from "./limits.js";
import { toQuoteBytes } from "./parse-quote.js";
import { collateralRequestOf, parseFacts } from "./quote-context.js";
import { assertNow } from "./resolve-policy.js";

export type ReadCollateralRequestErrorType = InvalidInputError;

/**
 * What a {@link CollateralSource} must be asked for to verify `quote` at `now`: the TEE type, the FMSPC of
 * the quote's PCK certificate, and its issuing CA (`"processor"` or `"platform"`). Parses the quote strictly,
 * like `verifyQuote`.
 *
 * @throws {InvalidInputError} (field `quote`) when the quote is oversize, malformed, or has no PCK chain;
 *   (field `now`) for a bad `now`.
 * @example
 * const source = createPcsCollateralSource();
 * const collateral = await source.getCollateral(readCollateralRequest(quote, now));
 * const report = await verifyQuote(quote, collateral, { now });
 */
export function readCollateralRequest(quote: Uint8Array | string, now: number): CollateralRequest {
  assertNow(now);
  const size = typeof quote === "string" ? Math.floor(quote.replace(/^0x/i, "").length / 2) : quote?.length;
  if (size > LIMITS.quoteBytes) throw new InputTooLargeError("quote", size, LIMITS.quoteBytes);
  const facts = parseFacts(toQuoteBytes(quote));
  if (!facts.ok) throw new InvalidInputError("quote", `${facts.reason}: ${facts.message}`);
  return collateralRequestOf(facts, now);
}
