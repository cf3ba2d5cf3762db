import { blocked, type Check, fail, pass, skip } from "../check.js";
import { composeHashOf } from "../event-log.js";
import type { ProofContext } from "../proof-context.js";
import { isCheck, teeQuote } from "./tee-common.js";
import { teeEventLog } from "./tee-event-log.js";

const NAME = "tee.compose_hash";

/**
 * `tee.compose_hash`: the workload identity, read as dstack does: from the runtime events before
 * `system-ready` there is exactly one `compose-hash` (none after it), `sha256(app_compose)` is that hash
 * when the proof carries the compose, and `docker_digest` is `"sha256:" + hash`.
 */
export function teeComposeHash(ctx: ProofContext): Check {
  const q = teeQuote(ctx, NAME);
  if (isCheck(q)) return q;
  if (!q.td) return skip(NAME, "not_applicable", "SGX quote: there is no dstack compose hash");
  const log = teeEventLog(ctx);
  if (log.status === "skipped") return skip(NAME, "not_required", log.message);
  if (log.status !== "pass" || !ctx.replay?.ok) return blocked(NAME, "tee.event_log");
  const { identity } = ctx.replay.value;
  if (identity.lateComposeHashes.length > 0)
    return fail(
      NAME,
      "compose_hash_after_system_ready",
      `compose-hash extended after system-ready (entries ${identity.lateComposeHashes.join(", ")}): the workload changed its own identity`,
      {
        entries: identity.lateComposeHashes,
      },
    );
  if (identity.composeHashes.length > 1)
    return fail(
      NAME,
      "compose_hash_duplicate",
      `${identity.composeHashes.length} compose-hash events before system-ready`,
      {
        composeHashes: identity.composeHashes,
      },
    );
  const composeHash = identity.composeHashes[0];
  if (composeHash === undefined)
    return fail(NAME, "compose_hash_missing", "the event log has no compose-hash event before system-ready");
  const p = ctx.proof.ok ? ctx.proof.value : undefined;
  const appCompose = p?.tee?.appCompose ?? "";
  if (appCompose !== "" && composeHashOf(appCompose) !== composeHash)
    return fail(
      NAME,
      "compose_hash_mismatch",
      "sha256(app_compose) is not the compose hash extended into RTMR3",
      { composeHash },
    );
  if ((p?.dockerDigest ?? "").toLowerCase() !== `sha256:${composeHash}`)
    return fail(
      NAME,
      "docker_digest_mismatch",
      `docker_digest ${p?.dockerDigest || "(empty)"} is not sha256:<compose hash from RTMR3>`,
      {
        composeHash,
      },
    );
  return pass(
    NAME,
    `docker_digest is the one compose hash extended into RTMR3 before system-ready${appCompose ? " and sha256(app_compose)" : ""}`,
    {
      composeHash,
      systemReady: identity.systemReadyAt >= 0,
    },
  );
}
