import { blocked, type Check, type CheckName, skip } from "../check.js";
import type { ParsedQuote } from "../parse-quote.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

/**
 * The proof's verified quote for a TEE step, or the check that says why the step cannot run. A quote whose
 * signature chain did not verify is the forger's own text: no step reads it.
 */
export function teeQuote(ctx: ProofContext, name: CheckName): ParsedQuote | Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(name);
  if (p.attestation.length === 0 && !ctx.policy.tee.requireQuote)
    return skip(name, "not_required", "no quote (not required by policy)");
  if (!ctx.quote) return blocked(name, "quote.present");
  if (!ctx.quote.parse.ok) return blocked(name, "quote.format");
  return ctx.quote.dcap?.result ? ctx.quote.parse.quote : blocked(name, "quote.signature_chain");
}

export function isCheck(v: unknown): v is Check {
  return typeof v === "object" && v !== null && "status" in v && "name" in v;
}
