import { readFileSync } from "node:fs";
import { create, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ComputeTaskSchema, TaskType, VerificationMethod } from "./gen/chaoschain/zerog/v1/compute_pb.js";
import { parseTask, validateIdempotencyKey, validateTask } from "./task.js";

interface Case {
  name: string;
  patch?: Record<string, unknown>;
  replace?: unknown;
  field: string;
}
const table = JSON.parse(readFileSync(new URL("../test/malformed-tasks.json", import.meta.url), "utf8")) as {
  base: Record<string, unknown>;
  cases: Case[];
  parserOnly: Case[];
};

/** Applies a case's patch to the base task (a null value deletes the field). */
function malformedTask(base: Record<string, unknown>, c: Case): unknown {
  if ("replace" in c) return c.replace;
  const task = { ...base, ...c.patch };
  for (const [k, v] of Object.entries(task)) if (v === null) delete task[k];
  return task;
}

describe("parseTask", () => {
  it("accepts the original Python adapter's task dictionary as is", () => {
    const parsed = parseTask({
      task_type: "inference",
      model: "llama-3-8b",
      inputs: { prompt: "What is blockchain?" },
      verification: "tee-ml",
      docker_image: "vllm/vllm-openai:v0.6.3",
      resources: { gpu: 1, memory: "16GB" },
    });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.task.taskType).toBe(TaskType.INFERENCE);
    expect(parsed.task.verification).toBe(VerificationMethod.TEE_ML);
    expect(parsed.task.inputs?.prompt).toBe("What is blockchain?");
    expect(parsed.task.resources?.memory).toBe("16GB");
  });

  it("accepts the original README's Task Specification as printed, gpu as a GPU model name", () => {
    // Verbatim from the original Python adapter's README ("Task Specification").
    const parsed = parseTask({
      task_type: "inference", // or "training", "fine-tuning"
      model: "model-identifier",
      inputs: {
        prompt: "...",
        // ... other inputs
      },
      verification: "tee-ml", // or "zk-ml", "op-ml"
      docker_image: "optional-custom-image",
      resources: {
        gpu: "A100",
        memory: "16GB",
      },
    });
    expect(parsed.ok ? [] : parsed.violations).toEqual([]);
    if (!parsed.ok) return;
    expect(parsed.task.resources).toMatchObject({ gpu: 0, gpuType: "A100", memory: "16GB" });
    expect(parsed.task.dockerImage).toBe("optional-custom-image");
  });

  it("keeps a number of GPUs as the count, and takes gpu_type next to it", () => {
    const count = parseTask({ ...table.base, resources: { gpu: 2 } });
    expect(count.ok && count.task.resources).toMatchObject({ gpu: 2, gpuType: "" });
    const both = parseTask({ ...table.base, resources: { gpu: 2, gpu_type: "H100" } });
    expect(both.ok && both.task.resources).toMatchObject({ gpu: 2, gpuType: "H100" });
    const camel = parseTask({ ...table.base, resources: { gpuType: "H100" } });
    expect(camel.ok && camel.task.resources?.gpuType).toBe("H100");
    const spaced = parseTask({ ...table.base, resources: { gpu: " RTX 4090 " } });
    expect(spaced.ok && spaced.task.resources?.gpuType).toBe("RTX 4090");
  });

  it("accepts camelCase keys, enum aliases and chat messages with parameters", () => {
    const parsed = parseTask({
      taskType: "TASK_TYPE_INFERENCE",
      model: "gpt-oss-120b",
      verification: "TeeML",
      inputs: {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hi" },
        ],
        parameters: { maxTokens: 64, temperature: 0.2, topP: 0.9, stop: "END", seed: 7 },
        extras: { response_format: { type: "text" } },
        stream: true,
      },
    });
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const json = toJson(ComputeTaskSchema, parsed.task, { useProtoFieldName: true }) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({
      task_type: "TASK_TYPE_INFERENCE",
      verification: "VERIFICATION_METHOD_TEE_ML",
      inputs: { parameters: { max_tokens: 64, stop: ["END"], seed: "7" }, stream: true },
    });
  });

  it("defaults verification to unspecified (tee-ml at the bridge)", () => {
    const parsed = parseTask({ task_type: "inference", model: "llama-3-8b", inputs: { prompt: "x" } });
    expect(parsed.ok && parsed.task.verification).toBe(VerificationMethod.UNSPECIFIED);
  });

  it.each([...table.cases, ...table.parserOnly])("rejects $name, naming $field", (c) => {
    const parsed = parseTask(malformedTask(table.base, c));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.violations.map((v) => v.field)).toContain(c.field);
    for (const v of parsed.violations) expect(v.description.length).toBeGreaterThan(5);
  });

  it("reports every violation at once", () => {
    const parsed = parseTask({
      task_type: "mining",
      model: "",
      inputs: { prompt: "" },
      resources: { gpu: 999 },
    });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.violations.map((v) => v.field).sort()).toEqual(
      ["task.inputs.prompt", "task.model", "task.resources.gpu", "task.task_type"].sort(),
    );
  });

  it("refuses cyclic or too deeply nested extras, naming them, instead of overflowing the stack", () => {
    const base = { task_type: "inference", model: "llama-3-8b", inputs: { prompt: "hi" } };
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const list: unknown[] = [];
    list.push(list);
    const nested = (levels: number) => {
      let value: unknown = 1;
      for (let i = 0; i < levels; i++) value = { d: value };
      return value as Record<string, unknown>;
    };
    for (const extras of [cyclic, { list }, nested(100_000)]) {
      const parsed = parseTask({ ...base, inputs: { prompt: "hi", extras } });
      expect(parsed.ok ? [] : parsed.violations).toContainEqual(
        expect.objectContaining({
          reason: "OUT_OF_RANGE",
          description: expect.stringMatching(/nested deeper than 32 levels/),
        }),
      );
    }
    const deepest = parseTask({ ...base, inputs: { prompt: "hi", extras: nested(32) } });
    expect(deepest.ok).toBe(true);
    if (deepest.ok)
      expect(fromBinary(ComputeTaskSchema, toBinary(ComputeTaskSchema, deepest.task))).toEqual(deepest.task);
  });

  it("keeps an extras key named __proto__ as a key, and names a field whose getter throws", () => {
    const parsed = parseTask({
      task_type: "inference",
      model: "llama-3-8b",
      inputs: { prompt: "hi", extras: JSON.parse('{"__proto__":{"a":1},"b":2}') },
    });
    expect(parsed.ok && Object.keys(parsed.task.inputs?.extras ?? {})).toEqual(["__proto__", "b"]);
    const throwing = parseTask({
      task_type: "inference",
      get model(): string {
        throw new Error("not loaded yet");
      },
      inputs: { prompt: "hi" },
    });
    expect(throwing).toEqual({
      ok: false,
      violations: [
        { field: "task", reason: "INVALID_VALUE", description: "could not be read: not loaded yet" },
      ],
    });
    const proxy = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new TypeError("revoked");
        },
      },
    );
    expect(parseTask(proxy).ok).toBe(false);
  });

  it("validates a ComputeTask message as well as a plain object", () => {
    const message = create(ComputeTaskSchema, { taskType: TaskType.INFERENCE, model: "llama-3-8b" });
    const parsed = parseTask(message);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.violations.map((v) => v.field)).toEqual(["task.inputs"]);
  });
});

describe("validateTask", () => {
  it("requires a task", () => {
    expect(validateTask(undefined)).toEqual([
      { field: "task", reason: "REQUIRED", description: "a task is required" },
    ]);
  });

  it("refuses a seed over 2^53 - 1: the request's JSON number would reach the provider rounded", () => {
    const task = (seed: bigint) =>
      create(ComputeTaskSchema, {
        taskType: TaskType.INFERENCE,
        model: "llama-3-8b",
        inputs: { prompt: "hi", parameters: { seed } },
      });
    expect(validateTask(task(BigInt(Number.MAX_SAFE_INTEGER)))).toEqual([]);
    expect(validateTask(task(2n ** 53n + 1n))).toEqual([
      {
        field: "task.inputs.parameters.seed",
        reason: "OUT_OF_RANGE",
        description: "at most 9007199254740991 (2^53 - 1): a larger JSON number is not read exactly",
      },
    ]);
  });

  it("accepts fine-tuning with a dataset and no prompt", () => {
    const task = create(ComputeTaskSchema, {
      taskType: TaskType.FINE_TUNING,
      model: "Qwen2.5-0.5B-Instruct",
      inputs: { dataset: "0xabc" },
    });
    expect(validateTask(task)).toEqual([]);
  });
});

describe("validateIdempotencyKey", () => {
  it("accepts empty and printable keys, rejects long or spaced ones", () => {
    expect(validateIdempotencyKey("")).toEqual([]);
    expect(validateIdempotencyKey("order-42")).toEqual([]);
    expect(validateIdempotencyKey("a b")[0]?.reason).toBe("INVALID_VALUE");
    expect(validateIdempotencyKey("k".repeat(129))[0]?.reason).toBe("OUT_OF_RANGE");
  });
});
