import { blocked, type Check, fail, pass } from "../check.js";
import { parsed, type QuoteContext } from "../quote-context.js";

/** `quote.qe_vendor_id`: the header's QE vendor id is allowed (default: Intel's). */
export function quoteQeVendorId(ctx: QuoteContext): Check {
  const q = parsed(ctx);
  if (!q) return blocked("quote.qe_vendor_id", "quote.format");
  const id = q.quote.qeVendorId;
  const allowed = ctx.policy.tee.allowedQeVendorIds;
  return allowed.includes(id)
    ? pass("quote.qe_vendor_id", `QE vendor id ${id} is allowed`)
    : fail("quote.qe_vendor_id", "qe_vendor_not_allowed", `QE vendor id ${id} is not allowed`, {
        qeVendorId: id,
        allowed,
      });
}
