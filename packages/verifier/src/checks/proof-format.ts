import { type Check, fail, pass } from "../check.js";
import type { ProofContext } from "../proof-context.js";

/** `proof.format`: every field has its type, encoding and size (see `normalizeProof` and `LIMITS`). */
export function proofFormat(ctx: ProofContext): Check {
  const p = ctx.proof;
  if (!p.ok) return fail("proof.format", p.reason ?? "proof_malformed", p.message, { field: p.field });
  return pass("proof.format", "every proof field is well-formed and within its size limit");
}
