import { type Check, fail, pass, skip } from "../check.js";
import { sha256Hex } from "../internal/sha256.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

const NAME = "response.execution_hash";

/** `response.execution_hash`: the claimed `execution_hash` is sha256 of the signed text. */
export function responseExecutionHash(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(NAME);
  if (p.executionHash === "")
    return skip(NAME, "not_required", "no execution_hash claimed: nothing to compare");
  const expected = sha256Hex(p.signedText);
  if (p.executionHash.toLowerCase().replace(/^0x/, "") !== expected)
    return fail(NAME, "execution_hash_mismatch", "execution_hash is not sha256 of signed_text", { expected });
  return pass(NAME, "execution_hash is sha256 of signed_text", { claimed: true });
}
