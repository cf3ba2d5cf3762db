import { describe, expect, it } from "vitest";
import { makeFixture, NOW } from "../../test/fixtures.js";
import { type PolicyInput, resolvePolicy, verifyProof } from "../index.js";

/** The freshness check of a proof whose signed `created` is `created` and whose `timestamp` is `timestamp`. */
async function freshness(created: number, timestamp: number, policy: PolicyInput = {}) {
  const fx = makeFixture({ created });
  fx.result.proof.timestamp = BigInt(timestamp);
  const report = await verifyProof(fx.result, { now: NOW, policy: { ...fx.policy, ...policy } });
  return report.checks.find((c) => c.name === "freshness");
}

describe("freshness: the proof's timestamp against the signed created time", () => {
  it("accepts a 10-minute stream: timestamp (signature received) 600 s after created (generation began)", async () => {
    expect(await freshness(NOW - 610, NOW - 10)).toMatchObject({ status: "pass" });
  });

  it("accepts up to maxGenerationSeconds (default 3600) plus the clock skew (300)", async () => {
    expect(await freshness(NOW - 3900, NOW)).toMatchObject({ status: "pass" });
    expect(await freshness(NOW - 3901, NOW)).toMatchObject({
      status: "fail",
      reason: "timestamp_mismatch",
      message: expect.stringContaining("3901 s after the signed created time (max 3900"),
    });
  });

  it("a policy can narrow or widen the generation window", async () => {
    expect(await freshness(NOW - 610, NOW - 10, { maxGenerationSeconds: 60 })).toMatchObject({
      status: "fail",
      reason: "timestamp_mismatch",
    });
    expect(await freshness(NOW - 7210, NOW - 10, { maxGenerationSeconds: 7200 })).toMatchObject({
      status: "pass",
    });
  });

  it("a timestamp before the signed created time gets the clock skew only", async () => {
    expect(await freshness(NOW - 10, NOW - 310)).toMatchObject({ status: "pass" });
    expect(await freshness(NOW - 10, NOW - 311)).toMatchObject({
      status: "fail",
      reason: "timestamp_mismatch",
      message: expect.stringContaining("301 s before the signed created time"),
    });
  });

  it.each([-1, 86401, 1.5, "60"])("maxGenerationSeconds %j is refused", (v) => {
    expect(() => resolvePolicy({ maxGenerationSeconds: v as number })).toThrow(
      expect.objectContaining({ field: "policy.maxGenerationSeconds" }),
    );
  });
});
