import { type Check, fail, pass } from "../check.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

/** `response.bodies`: the proof carries the exact request and response bytes. */
export function responseBodies(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat("response.bodies");
  if (p.requestBody.length === 0 || p.responseBody.length === 0)
    return fail(
      "response.bodies",
      "body_missing",
      "the proof must carry the exact request and response bytes",
    );
  return pass("response.bodies", "the proof carries the request and response bytes", {
    requestBytes: p.requestBody.length,
    responseBytes: p.responseBody.length,
  });
}
