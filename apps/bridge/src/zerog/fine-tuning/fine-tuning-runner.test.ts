import { describe, expect, it } from "vitest";
import { fineTuningCheckpointOf } from "./fine-tuning-runner.js";

const base = { kind: "fine-tuning", provider: `0x${"ab".repeat(20)}`, funded: "1000" };

describe("fineTuningCheckpointOf", () => {
  it("reads the run's start (ms since the epoch) back; a damaged one is no checkpoint", () => {
    expect(fineTuningCheckpointOf({ ...base, startedAt: 1_780_000_000_000 })).toMatchObject({
      startedAt: 1_780_000_000_000,
    });
    expect(fineTuningCheckpointOf(base)?.startedAt).toBeUndefined();
    for (const startedAt of ["1780000000000", 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])
      expect(fineTuningCheckpointOf({ ...base, startedAt })).toBeUndefined();
  });
});
