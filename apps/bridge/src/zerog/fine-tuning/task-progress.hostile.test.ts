import { describe, expect, it } from "vitest";
import { taskProgress } from "./task-progress.js";

/** What a hostile or confused provider reports about its task: the job's progress stays sane. */
describe("taskProgress with a hostile provider", () => {
  it("never goes backwards when the provider's state or step count does", () => {
    const step3 = taskProgress("Training", "step 3/4");
    expect(taskProgress("Init", "", step3).progress).toBe(step3.progress);
    expect(taskProgress("Training", "step 1/4", step3).progress).toBe(step3.progress);
    expect(taskProgress("Training", "step 1/1000000000", step3).progress).toBe(step3.progress);
    // Forward still moves forward.
    expect(taskProgress("Trained", "", step3).progress).toBeGreaterThan(step3.progress);
  });

  it("shows an unknown state's name as short printable text, never raw control characters", () => {
    const shown = taskProgress(`\u001b[2J\u001b]0;pwned\u0007${"A".repeat(300)}\n`);
    expect(shown.stage).toMatch(/^[\x20-\x7e]{1,64}$/);
    expect(shown.message).toMatch(/^[\x20-\x7e]+$/);
    expect(shown.message.length).toBeLessThanOrEqual(100);
  });
});
