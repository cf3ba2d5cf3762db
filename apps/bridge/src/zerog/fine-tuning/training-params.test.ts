import { describe, expect, it } from "vitest";
import { trainingParams } from "./training-params.js";

describe("trainingParams", () => {
  it("sends the documented keys, num_train_epochs always (default 1)", () => {
    expect(trainingParams(undefined)).toEqual({ ok: true, json: '{"num_train_epochs":1}', epochs: 1 });
    expect(trainingParams({ lora_r: 16, learning_rate: 0.0002, num_train_epochs: 3, bf16: true })).toEqual({
      ok: true,
      json: '{"num_train_epochs":3,"lora_r":16,"learning_rate":0.0002,"bf16":true}',
      epochs: 3,
    });
    expect(trainingParams({ max_steps: -1, warmup_ratio: 0, lora_dropout: 0 }).ok).toBe(true);
  });

  it("names every bad field: unknown keys, types, ranges, conflicts", () => {
    const r = trainingParams({
      epochs: 2,
      num_train_epochs: 0,
      lora_r: 8.5,
      learning_rate: "1e-4",
      lora_alpha: 0,
      fp16: "yes",
      use_4bit: true,
      use_8bit: true,
      constructor: 1,
      __proto__: 1,
      nested: { a: 1 },
    } as never);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.violations.map((v) => `${v.field} ${v.reason}`)).toEqual([
      "task.inputs.extras.epochs UNKNOWN_FIELD",
      "task.inputs.extras.num_train_epochs OUT_OF_RANGE",
      "task.inputs.extras.lora_r INVALID_VALUE",
      "task.inputs.extras.learning_rate INVALID_TYPE",
      "task.inputs.extras.lora_alpha OUT_OF_RANGE",
      "task.inputs.extras.fp16 INVALID_TYPE",
      "task.inputs.extras.constructor UNKNOWN_FIELD",
      "task.inputs.extras.nested UNKNOWN_FIELD",
      "task.inputs.extras.use_8bit CONFLICT",
    ]);
    expect(r.violations[1]?.description).toBe("at least 1 and at most 100");
    expect(r.violations[4]?.description).toBe("greater than 0 and at most 1024");
    expect(r.violations[0]?.description).toMatch(/accepted: num_train_epochs, learning_rate/);
  });
});
