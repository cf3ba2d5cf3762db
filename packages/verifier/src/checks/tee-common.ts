import { blocked, type Check, type CheckName, skip } from "../check.js";
import type { ParsedQuote } from "../parse-quote.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

/** The proof's parsed quote for a TEE step, or the check that says why the step cannot run. */
export function teeQuote(ctx: ProofContext, name: CheckName): ParsedQuote | Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(name);
  if (p.attestation.length === 0 && !ctx.policy.tee.requireQuote)
    return skip(name, "not_required", "no quote (not required by policy)");
  if (!ctx.quote) return blocked(name, "quote.present");
  return ctx.quote.parse.ok ? ctx.quote.parse.quote : blocked(name, "quote.format");
}

export function isCheck(v: unknown): v is Check {
  return typeof v === "object" && v !== null && "status" in v && "name" in v;
}
