import { blocked, type Check, fail, pass } from "../check.js";
import type { TcbStatus } from "../policy.js";
import type { QuoteContext } from "../quote-context.js";
import { convergeWithModule, tdxModuleOf } from "./quote-tdx-module.js";

/** The final TCB status and advisories: dcap-qvl's (platform merged with QE), converged with the TDX module's. */
export function tcbOf(ctx: QuoteContext): { status: TcbStatus; advisoryIds: string[] } | undefined {
  const r = ctx.dcap?.result;
  if (!r) return undefined;
  const m = tdxModuleOf(ctx);
  const module = m?.ok ? m : undefined;
  const advisoryIds = [...new Set([...r.advisoryIds, ...(module?.advisoryIds ?? [])])];
  return { status: convergeWithModule(r.status, module?.status) as TcbStatus, advisoryIds };
}

/** `quote.tcb_status`: the final TCB status is allowed (never Revoked), and so is every advisory. */
export function quoteTcbStatus(ctx: QuoteContext): Check {
  const tcb = tcbOf(ctx);
  if (!tcb) return blocked("quote.tcb_status", "quote.signature_chain");
  const { status, advisoryIds } = tcb;
  const details = { status, advisoryIds, allowedStatuses: ctx.policy.tee.allowedTcbStatuses };
  if (status === "Revoked" || !ctx.policy.tee.allowedTcbStatuses.includes(status))
    return fail(
      "quote.tcb_status",
      "tcb_status_not_allowed",
      `TCB status ${status} is not allowed by policy`,
      details,
    );
  const allowed = ctx.policy.tee.allowedAdvisoryIds;
  const bad = allowed ? advisoryIds.filter((a) => !allowed.includes(a)) : [];
  if (bad.length > 0)
    return fail(
      "quote.tcb_status",
      "advisory_not_allowed",
      `advisories not allowed by policy: ${bad.join(", ")}`,
      details,
    );
  return pass(
    "quote.tcb_status",
    `TCB status ${status}${advisoryIds.length ? ` with ${advisoryIds.join(", ")}` : ""} is allowed`,
    details,
  );
}
