import { type Check, fail, pass, skip } from "../check.js";
import type { ProofContext } from "../proof-context.js";
import { isCheck, teeQuote } from "./tee-common.js";

const NAME = "tee.event_log";

/**
 * `tee.event_log`: the dstack event log replays (`mr = sha384(mr ‖ digest)`, runtime event digests
 * recomputed from their payloads) to the quote's RTMR3, and to RTMR0-2 for the IMRs it logs.
 */
export function teeEventLog(ctx: ProofContext): Check {
  const q = teeQuote(ctx, NAME);
  if (isCheck(q)) return q;
  if (!q.td) return skip(NAME, "not_applicable", "SGX quote: there are no RTMRs to replay");
  const replay = ctx.replay;
  if (!replay)
    return ctx.policy.tee.requireEventLog
      ? fail(NAME, "event_log_missing", "the proof has no dstack event log to replay RTMR3")
      : skip(NAME, "not_required", "no event log (not required by policy): the workload is not identified");
  if (!replay.ok) return fail(NAME, "event_log_invalid", `the event log does not parse: ${replay.message}`);
  const r = replay.value;
  if (r.badDigests.length > 0)
    return fail(
      NAME,
      "event_log_invalid",
      `runtime event digests do not match their payloads (entries ${r.badDigests.join(", ")})`,
      {
        entries: r.badDigests,
      },
    );
  const td = q.td;
  const mismatched = ([0, 1, 2, 3] as const).filter(
    (i) => (i === 3 || r.events.some((e) => e.imr === i)) && r.rtmrs[i] !== td[`rtmr${i}`],
  );
  if (mismatched.length > 0)
    return fail(
      NAME,
      "rtmr_mismatch",
      `event log replay does not reproduce RTMR${mismatched.join(", RTMR")}`,
      {
        replayed: r.rtmrs,
      },
    );
  const replayed = ([0, 1, 2, 3] as const).filter((i) => i === 3 || r.events.some((e) => e.imr === i));
  return pass(NAME, `event log replays to the quote's RTMR${replayed.join(", RTMR")}`, {
    events: r.events.length,
    replayed,
  });
}
