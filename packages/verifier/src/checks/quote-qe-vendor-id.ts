import { blocked, type Check, fail, pass } from "../check.js";
import { parsed, type QuoteContext } from "../quote-context.js";

/**
 * `quote.qe_vendor_id`: the header's QE vendor id is allowed (default: Intel's). One not allowed fails at
 * once; an allowed one passes only once the quote's signature chain verified.
 */
export function quoteQeVendorId(ctx: QuoteContext): Check {
  const q = parsed(ctx);
  if (!q) return blocked("quote.qe_vendor_id", "quote.format");
  const id = q.quote.qeVendorId;
  const allowed = ctx.policy.tee.allowedQeVendorIds;
  if (!allowed.includes(id))
    return fail("quote.qe_vendor_id", "qe_vendor_not_allowed", `QE vendor id ${id} is not allowed`, {
      qeVendorId: id,
      allowed,
    });
  // The header is the quote's own claim until its signature verified: it passes only then.
  if (!ctx.dcap?.result) return blocked("quote.qe_vendor_id", "quote.signature_chain");
  return pass("quote.qe_vendor_id", `QE vendor id ${id} is allowed`);
}
