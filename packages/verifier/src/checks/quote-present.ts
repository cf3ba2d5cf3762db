import { type Check, fail, pass, skip } from "../check.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

/** `quote.present`: the proof carries a quote (unless the policy does not require one) and collateral is at hand. */
export function quotePresent(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat("quote.present");
  if (p.attestation.length === 0)
    return ctx.policy.tee.requireQuote
      ? fail("quote.present", "quote_missing", "the proof carries no TEE attestation quote")
      : skip(
          "quote.present",
          "not_required",
          "no quote (not required by policy): nothing about the TEE is checked",
        );
  if (!ctx.quote)
    return fail(
      "quote.present",
      "collateral_missing",
      "a quote is present but no collateral was given or embedded (the verifier makes no network call)",
    );
  return pass(
    "quote.present",
    `quote present; collateral ${ctx.collateralOrigin === "embedded" ? "embedded in the proof" : "given by the caller"}`,
    {
      collateral: ctx.collateralOrigin,
    },
  );
}
