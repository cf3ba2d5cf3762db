import { blocked, type Check, fail, pass } from "../check.js";
import { parsed, type QuoteContext } from "../quote-context.js";

/**
 * `quote.tee_type`: the quote's TEE type is allowed by the policy (default: TDX only). A type not allowed
 * fails at once; an allowed one passes only once the quote's signature chain verified.
 */
export function quoteTeeType(ctx: QuoteContext): Check {
  const q = parsed(ctx);
  if (!q) return blocked("quote.tee_type", "quote.format");
  const { teeType } = q.quote;
  const allowed = ctx.policy.tee.allowedTeeTypes;
  if (!allowed.includes(teeType))
    return fail("quote.tee_type", "tee_type_not_allowed", `TEE type ${teeType} is not allowed by policy`, {
      allowed,
    });
  // The header is the quote's own claim until its signature verified: it passes only then.
  if (!ctx.dcap?.result) return blocked("quote.tee_type", "quote.signature_chain");
  return pass("quote.tee_type", `TEE type ${teeType} is allowed`);
}
