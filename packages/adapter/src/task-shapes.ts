import type { FieldViolation, TaskInput } from "@chaoschain/zerog-core";

/**
 * The task `@chaoschain/sdk`'s process integrity submits to its compute provider (0.1.3,
 * `ProcessIntegrity.getTeeAttestation`): the function's name and inputs, the model, and a prompt
 * that already states both.
 */
export interface ChaosChainSdkTask {
  function: string;
  inputs?: Record<string, unknown> | undefined;
  model: string;
  prompt?: string | undefined;
}

/** What `inference(model, input)` takes: a prompt, chat messages, or the `inputs` of a task. */
export type InferenceInput =
  | string
  | Array<{ role: string; content: string }>
  | NonNullable<TaskInput["inputs"]>;

/** Whether `task` is the SDK's `{ function, inputs, model, prompt }` rather than a task dictionary. */
export function isChaosChainSdkTask(task: unknown): task is ChaosChainSdkTask {
  return typeof task === "object" && task !== null && !Array.isArray(task) && "function" in task;
}

const sdkKeys = new Set(["function", "inputs", "model", "prompt"]);

/**
 * The SDK's task as a task dictionary: an inference of `model` on `prompt` (which the SDK builds
 * from the function's name and inputs; without one, the same sentence is built here). Returns the
 * violations, with their paths, when a field has the wrong type.
 */
export function fromChaosChainSdkTask(
  task: ChaosChainSdkTask,
): { ok: true; task: TaskInput } | { ok: false; violations: FieldViolation[] } {
  const violations: FieldViolation[] = [];
  const t = task as unknown as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (!sdkKeys.has(key) && t[key] !== undefined) {
      violations.push({
        field: `task.${key}`,
        reason: "UNKNOWN_FIELD",
        description: "unknown field; a ChaosChain SDK task has function, inputs, model and prompt",
      });
    }
  }
  const text = (key: string, required: boolean): string | undefined => {
    const v = t[key];
    if (typeof v === "string") return v;
    if (v === undefined || v === null) {
      if (required) violations.push({ field: `task.${key}`, reason: "REQUIRED", description: "required" });
      return undefined;
    }
    violations.push({ field: `task.${key}`, reason: "INVALID_TYPE", description: "must be a string" });
    return undefined;
  };
  const name = text("function", true);
  const model = text("model", true);
  let prompt = text("prompt", false);
  if (
    t.inputs !== undefined &&
    (typeof t.inputs !== "object" || t.inputs === null || Array.isArray(t.inputs))
  ) {
    violations.push({ field: "task.inputs", reason: "INVALID_TYPE", description: "must be an object" });
  }
  if (violations.length) return { ok: false, violations };
  if (prompt === undefined) {
    let inputs: string;
    try {
      inputs = JSON.stringify(t.inputs ?? {});
    } catch (err) {
      // Cyclic, or a bigint: JSON cannot write it.
      const description = `must be JSON: ${err instanceof Error ? err.message.split("\n")[0] : err}`;
      return { ok: false, violations: [{ field: "task.inputs", reason: "INVALID_VALUE", description }] };
    }
    // ProcessIntegrity's own wording, for a caller that leaves the prompt out.
    prompt = `Execute function: ${name} with inputs: ${inputs}`;
  }
  return {
    ok: true,
    task: { task_type: "inference", model: model ?? "", inputs: { prompt }, verification: "tee-ml" },
  };
}

/** The `inputs` of an inference task for `inference(model, input)`'s `input`. */
export function inferenceInputs(input: InferenceInput): NonNullable<TaskInput["inputs"]> {
  if (typeof input === "string") return { prompt: input };
  if (Array.isArray(input)) return { messages: input };
  return input;
}
