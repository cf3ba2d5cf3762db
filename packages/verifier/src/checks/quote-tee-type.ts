import { blocked, type Check, fail, pass } from "../check.js";
import { parsed, type QuoteContext } from "../quote-context.js";

/** `quote.tee_type`: the quote's TEE type is allowed by the policy (default: TDX only). */
export function quoteTeeType(ctx: QuoteContext): Check {
  const q = parsed(ctx);
  if (!q) return blocked("quote.tee_type", "quote.format");
  const { teeType } = q.quote;
  const allowed = ctx.policy.tee.allowedTeeTypes;
  return allowed.includes(teeType)
    ? pass("quote.tee_type", `TEE type ${teeType} is allowed`)
    : fail("quote.tee_type", "tee_type_not_allowed", `TEE type ${teeType} is not allowed by policy`, {
        allowed,
      });
}
