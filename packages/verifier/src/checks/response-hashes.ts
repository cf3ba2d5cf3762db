import { blocked, type Check, fail, pass, skip } from "../check.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

const NAME = "response.hashes";

/** `response.hashes`: `request_hash` / `response_hash`, when claimed, are the SHA-256 of the carried bodies. */
export function responseHashes(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(NAME);
  if (!ctx.hashes) return blocked(NAME, "response.bodies");
  const { requestHash, responseHash } = ctx.hashes;
  if (p.requestHash === "" && p.responseHash === "")
    return skip(NAME, "not_required", "no request_hash or response_hash claimed: nothing to compare", {
      requestHash,
      responseHash,
    });
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
  const claimed = [p.requestHash && "request_hash", p.responseHash && "response_hash"].filter(Boolean);
  return pass(
    NAME,
    `the claimed ${claimed.join(" and ")} ${claimed.length > 1 ? "are" : "is"} sha256 of the carried bodies`,
    {
      requestHash,
      responseHash,
    },
  );
}
