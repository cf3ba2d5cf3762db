import type { JsonObject } from "@bufbuild/protobuf";
import type { FieldViolation } from "@chaoschain/zerog-core";

type Rule =
  | { type: "integer"; min: number; max: number; doc: string }
  | { type: "number"; min: number; max: number; exclusiveMin?: boolean; doc: string }
  | { type: "boolean"; doc: string };

/**
 * The training parameters a fine-tuning task takes in `inputs.extras`: the keys of 0G's LoRA training
 * script (`train_lora.py` config, [Go] `0g-serving-broker` api/fine-tuning/execution), with the ranges
 * the bridge accepts. Unknown keys are refused, so a typo never silently trains with a default.
 */
export const trainingParameterRules = {
  num_train_epochs: {
    type: "integer",
    min: 1,
    max: 100,
    doc: "passes over the dataset (default 1); the fee scales with it",
  },
  learning_rate: {
    type: "number",
    min: 0,
    max: 1,
    exclusiveMin: true,
    doc: "optimizer learning rate, in (0, 1]",
  },
  per_device_train_batch_size: { type: "integer", min: 1, max: 1024, doc: "batch size per GPU" },
  gradient_accumulation_steps: { type: "integer", min: 1, max: 1024, doc: "batches per optimizer step" },
  max_steps: {
    type: "integer",
    min: -1,
    max: 10_000_000,
    doc: "stop after this many steps (-1: run all epochs)",
  },
  warmup_ratio: { type: "number", min: 0, max: 1, doc: "fraction of steps with a warm-up learning rate" },
  warmup_steps: { type: "integer", min: 0, max: 10_000_000, doc: "warm-up steps" },
  max_seq_length: { type: "integer", min: 1, max: 131_072, doc: "tokens per example after truncation" },
  lora_r: { type: "integer", min: 1, max: 64, doc: "LoRA rank" },
  lora_alpha: { type: "number", min: 0, max: 1024, exclusiveMin: true, doc: "LoRA scaling" },
  lora_dropout: { type: "number", min: 0, max: 0.99, doc: "LoRA dropout probability" },
  logging_steps: { type: "integer", min: 1, max: 10_000_000, doc: "steps between log lines" },
  fp16: { type: "boolean", doc: "train in float16" },
  bf16: { type: "boolean", doc: "train in bfloat16" },
  use_4bit: { type: "boolean", doc: "QLoRA 4-bit quantization" },
  use_8bit: { type: "boolean", doc: "8-bit quantization" },
} as const satisfies Record<string, Rule>;

export type TrainingParameterName = keyof typeof trainingParameterRules;

/** Epochs when `num_train_epochs` is not given: sent explicitly, so that the fee is predictable. */
export const defaultEpochs = 1;

export type TrainingParamsResult =
  | {
      ok: true;
      /** The JSON text sent to the provider as `trainingParams`. */
      json: string;
      epochs: number;
    }
  | { ok: false; violations: FieldViolation[] };

/**
 * Validates the training parameters of a fine-tuning task (`inputs.extras`, see
 * {@link trainingParameterRules}) and builds the JSON the provider receives, `num_train_epochs` always
 * included. Every problem is reported with its field path.
 *
 * @example
 * trainingParams({ num_train_epochs: 2, lora_r: 16 }) // { ok: true, json: '{"num_train_epochs":2,"lora_r":16}', epochs: 2 }
 */
export function trainingParams(
  extras: JsonObject | undefined,
  path = "task.inputs.extras",
): TrainingParamsResult {
  const violations: FieldViolation[] = [];
  const out: Record<string, number | boolean> = {};
  for (const [key, value] of Object.entries(extras ?? {})) {
    const field = `${path}.${key}`;
    const rule: Rule | undefined = Object.hasOwn(trainingParameterRules, key)
      ? trainingParameterRules[key as TrainingParameterName]
      : undefined;
    if (!rule) {
      violations.push({
        field,
        reason: "UNKNOWN_FIELD",
        description: `not a training parameter; accepted: ${Object.keys(trainingParameterRules).join(", ")}`,
      });
      continue;
    }
    if (rule.type === "boolean") {
      if (typeof value === "boolean") out[key] = value;
      else violations.push({ field, reason: "INVALID_TYPE", description: "must be true or false" });
      continue;
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      violations.push({ field, reason: "INVALID_TYPE", description: `must be a ${rule.type}` });
      continue;
    }
    if (rule.type === "integer" && !Number.isInteger(value)) {
      violations.push({ field, reason: "INVALID_VALUE", description: "must be an integer" });
      continue;
    }
    const belowMin = rule.type === "number" && rule.exclusiveMin ? value <= rule.min : value < rule.min;
    if (belowMin || value > rule.max) {
      const low =
        rule.type === "number" && rule.exclusiveMin ? `greater than ${rule.min}` : `at least ${rule.min}`;
      violations.push({ field, reason: "OUT_OF_RANGE", description: `${low} and at most ${rule.max}` });
      continue;
    }
    out[key] = value;
  }
  if (out.use_4bit === true && out.use_8bit === true)
    violations.push({
      field: `${path}.use_8bit`,
      reason: "CONFLICT",
      description: "use_4bit and use_8bit exclude each other",
    });
  if (out.fp16 === true && out.bf16 === true)
    violations.push({
      field: `${path}.bf16`,
      reason: "CONFLICT",
      description: "fp16 and bf16 exclude each other",
    });
  if (violations.length) return { ok: false, violations };
  const epochs = (out.num_train_epochs as number | undefined) ?? defaultEpochs;
  return { ok: true, json: JSON.stringify({ num_train_epochs: epochs, ...out }), epochs };
}
