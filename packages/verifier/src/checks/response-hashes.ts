import { blocked, type Check, fail, pass } from "../check.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

const NAME = "response.hashes";

/** `response.hashes`: `request_hash` / `response_hash`, when claimed, are the SHA-256 of the carried bodies. */
export function responseHashes(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(NAME);
  if (!ctx.hashes) return blocked(NAME, "response.bodies");
  const { requestHash, responseHash } = ctx.hashes;
  const norm = (h: string) => h.toLowerCase().replace(/^0x/, "");
  if (p.requestHash !== "" && norm(p.requestHash) !== requestHash)
    return fail(NAME, "request_hash_mismatch", "request_hash is not sha256 of request_body", {
      claimed: p.requestHash,
      actual: requestHash,
    });
  if (p.responseHash !== "" && norm(p.responseHash) !== responseHash)
    return fail(NAME, "response_hash_mismatch", "response_hash is not sha256 of response_body", {
      claimed: p.responseHash,
      actual: responseHash,
    });
  return pass(NAME, "the claimed request and response hashes (if any) are sha256 of the carried bodies", {
    requestHash,
    responseHash,
  });
}
