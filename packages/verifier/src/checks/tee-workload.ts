import { blocked, type Check, fail, pass, skip } from "../check.js";
import type { ProofContext } from "../proof-context.js";
import { isCheck, teeQuote } from "./tee-common.js";
import { teeComposeHash } from "./tee-compose-hash.js";

const NAME = "tee.workload";

/** True when docker digests are pinned without all of MRTD and RTMR0-2 (the TD's own OS could extend RTMR3). */
export function weakWorkloadPin(tee: ProofContext["policy"]["tee"], digests: unknown): boolean {
  return digests !== undefined && !(tee.mrtd && tee.rtmr0 && tee.rtmr1 && tee.rtmr2);
}

/** `tee.workload`: the workload (`docker_digest`, bound to RTMR3 by `tee.compose_hash`) is in `dockerDigests`. */
export function teeWorkload(ctx: ProofContext): Check {
  const allowed = ctx.policy.dockerDigests;
  if (!allowed)
    return skip(NAME, "not_pinned", "the policy pins no workload (dockerDigests): any compose passes");
  const q = teeQuote(ctx, NAME);
  if (isCheck(q)) return q;
  if (!q.td)
    return fail(
      NAME,
      "pin_tee_type_mismatch",
      "the policy pins docker digests, which an SGX quote cannot satisfy",
    );
  const compose = teeComposeHash(ctx);
  if (compose.status !== "pass") return blocked(NAME, "tee.compose_hash");
  const digest = ctx.proof.ok ? ctx.proof.value.dockerDigest.toLowerCase() : "";
  if (!allowed.includes(digest))
    return fail(NAME, "docker_digest_not_allowed", `workload ${digest} is not in the policy allow-list`, {
      dockerDigest: digest,
    });
  const weak = weakWorkloadPin(ctx.policy.tee, allowed);
  return pass(
    NAME,
    `workload ${digest} is allowed${weak ? " (weak pin: MRTD and RTMR0-2 are not all pinned)" : ""}`,
    {
      dockerDigest: digest,
      weak,
    },
  );
}
