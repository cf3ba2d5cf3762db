import { blocked, type Check, fail, pass } from "../check.js";
import { parsed, type QuoteContext, readCollateral } from "../quote-context.js";

/** `quote.pce_id`: the verified PCK leaf's PCEID equals the TCB info's and is allowed. */
export function quotePceId(ctx: QuoteContext): Check {
  const q = parsed(ctx);
  if (!q) return blocked("quote.pce_id", "quote.format");
  const tcbInfo = readCollateral(ctx)?.analysis.tcbInfo;
  if (!ctx.dcap?.result || !tcbInfo) return blocked("quote.pce_id", "quote.signature_chain");
  const allowed = ctx.policy.tee.allowedPceIds;
  if (tcbInfo.pceId !== q.pceId || !allowed.includes(q.pceId))
    return fail(
      "quote.pce_id",
      "pce_id_not_allowed",
      `PCK PCEID ${q.pceId} (TCB info ${tcbInfo.pceId}) is not allowed`,
      {
        pckPceId: q.pceId,
        tcbInfoPceId: tcbInfo.pceId,
        allowed,
      },
    );
  return pass("quote.pce_id", `PCEID ${q.pceId} matches the TCB info and is allowed`);
}
