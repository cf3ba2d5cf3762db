import { blocked, type Check, fail, pass, skip } from "../check.js";
import { blockedByFormat, type ProofContext, proofOf, signedResponse } from "../proof-context.js";

const NAME = "freshness";

/**
 * `freshness`: how old the answer is, from signed data only: the signed response's `created` (every chunk's
 * in a stream; when the generation began). It must be at most `maxAgeSeconds` old and at most
 * `maxFutureSkewSeconds` ahead of `now`. The proof's unsigned `timestamp`, when set, is when the bridge
 * received the signature, after the generation: it may precede `created` by at most `maxFutureSkewSeconds`
 * and follow it by at most `maxGenerationSeconds + maxFutureSkewSeconds` (a 10-minute stream is legitimate).
 * Without a signed time the check fails `freshness_unsigned`, or is skipped when the policy does not
 * require freshness.
 */
export function freshness(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(NAME);
  if (p.fineTuning)
    return skip(
      NAME,
      "not_applicable",
      "a fine-tuning delivery carries no signed time: the enclave signs its task id, user and nonce instead",
    );
  const { now, policy } = ctx;
  const ts = p.timestamp === 0n ? undefined : p.timestamp;
  if (!ctx.response) return blocked(NAME, "response.bodies");
  const response = signedResponse(ctx);
  if (!response) return blocked(NAME, "response.signature");
  const created = response.ok ? response.value.created : [];
  if (created.length > 1)
    return fail(
      NAME,
      "timestamp_mismatch",
      `the signed response carries ${created.length} different created times`,
      { created },
    );
  const signed = created[0];
  if (signed === undefined) {
    const unsigned =
      ts === undefined
        ? "no timestamp either"
        : `the proof's unsigned timestamp says ${BigInt(now) - ts} s old`;
    const detail = { timestamp: ts?.toString() };
    return policy.requireFreshness
      ? fail(NAME, "freshness_unsigned", `the signed response has no created time (${unsigned})`, detail)
      : skip(NAME, "not_required", `no signed time, freshness not required by policy (${unsigned})`, detail);
  }
  const details = { signedTime: signed, timestamp: ts?.toString(), now };
  if (signed > now + policy.maxFutureSkewSeconds)
    return fail(
      NAME,
      "timestamp_in_future",
      `the signed response was created ${signed - now} s after now`,
      details,
    );
  if (now - signed > policy.maxAgeSeconds)
    return fail(
      NAME,
      "stale_timestamp",
      `the signed response was created ${now - signed} s ago (max ${policy.maxAgeSeconds})`,
      details,
    );
  const drift = ts === undefined ? 0n : ts - BigInt(signed);
  const skew = BigInt(policy.maxFutureSkewSeconds);
  const generation = BigInt(policy.maxGenerationSeconds);
  if (drift < -skew)
    return fail(
      NAME,
      "timestamp_mismatch",
      `the proof's timestamp is ${-drift} s before the signed created time (max ${skew} s of clock skew)`,
      details,
    );
  if (drift > generation + skew)
    return fail(
      NAME,
      "timestamp_mismatch",
      `the proof's timestamp is ${drift} s after the signed created time (max ${generation + skew}: maxGenerationSeconds ${generation} + ${skew} s of clock skew)`,
      details,
    );
  return pass(
    NAME,
    `the signed response was created ${now - signed} s ago (max ${policy.maxAgeSeconds})`,
    details,
  );
}
