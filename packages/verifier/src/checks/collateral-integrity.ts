import { blocked, type Check } from "../check.js";
import { parsed, type QuoteContext } from "../quote-context.js";

/** `collateral.integrity`: see `analyzeCollateral` (CRL signatures up to the root, issuer chains, revocations). */
export function collateralIntegrity(ctx: QuoteContext): Check {
  if (!parsed(ctx)) return blocked("collateral.integrity", "quote.format");
  const c = ctx.collateral;
  if (!c) return blocked("collateral.integrity", "quote.format");
  return c.ok ? c.analysis.integrity : c.check;
}
