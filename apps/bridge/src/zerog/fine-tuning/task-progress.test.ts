import { FINE_TUNING_STATUSES } from "@chaoschain/zerog-devnet";
import { describe, expect, it } from "vitest";
import { taskProgress } from "./task-progress.js";

describe("taskProgress", () => {
  it("maps the provider's states in order, training refined by its log", () => {
    // The provider's states in order, as the devnet simulator has them from the Go broker's schema.
    const order = FINE_TUNING_STATUSES.filter((s) => s !== "Failed");
    const fractions = order.map((s) => taskProgress(s).progress);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);
    expect(taskProgress("Training", "step 1/4 loss=2\nstep 2/4 loss=1.2\n")).toEqual({
      progress: 0.45,
      stage: "Training",
      message: "training, step 2 of 4",
    });
    expect(taskProgress("Training", "Epoch 3 of 3").message).toBe("training, epoch 3 of 3");
    expect(taskProgress("Training", "step 5/4").message).toBe("training");
    expect(taskProgress("Trained").progress).toBeGreaterThan(taskProgress("Training", "step 4/4").progress);
  });

  it("an unknown state keeps the last fraction and shows its name", () => {
    const before = taskProgress("SetUp");
    expect(taskProgress("InProgress", "", before)).toEqual({
      progress: before.progress,
      stage: "InProgress",
      message: 'provider state "InProgress"',
    });
    expect(taskProgress("constructor").message).toBe('provider state "constructor"');
  });
});
