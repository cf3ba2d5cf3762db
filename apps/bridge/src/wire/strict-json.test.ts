import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import {
  ListJobsRequestSchema,
  SubmitRequestSchema,
  TaskType,
  VerificationMethod,
} from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import { checkJson, decodeJsonRequest } from "./strict-json.js";

const task = { task_type: "inference", model: "llama-3-8b", inputs: { prompt: "hi" } };

function violations(value: unknown) {
  const out = checkJson(SubmitRequestSchema, value);
  return out.ok ? [] : out.violations;
}

describe("checkJson", () => {
  it("accepts proto names, JSON names and the documented enum aliases, returning proto enum names", () => {
    const out = checkJson(SubmitRequestSchema, {
      task: { ...task, verification: "zk-ml", dockerImage: "img", resources: { gpu: 1 } },
      idempotencyKey: "k",
    });
    expect(out.ok).toBe(true);
    const value = (out as { value: JsonValue }).value;
    const message = fromJson(SubmitRequestSchema, value);
    expect(message.task?.taskType).toBe(TaskType.INFERENCE);
    expect(message.task?.verification).toBe(VerificationMethod.ZK_ML);
    expect(message.idempotencyKey).toBe("k");
  });

  it("names unknown fields with the fields the message has", () => {
    expect(violations({ task, idempotency_kee: "x" })).toEqual([
      {
        field: "idempotency_kee",
        reason: "UNKNOWN_FIELD",
        description: "unknown field; SubmitRequest has: task, idempotency_key",
      },
    ]);
  });

  it("refuses a field given twice under its two names", () => {
    expect(violations({ task, idempotency_key: "a", idempotencyKey: "b" })[0]?.reason).toBe("CONFLICT");
  });

  it("checks types and ranges of scalars, and numbers of enums", () => {
    const found = violations({
      task: {
        ...task,
        model: 5,
        verification: 42,
        inputs: {
          prompt: "hi",
          stream: "yes",
          parameters: { max_tokens: -1, seed: "1e3", temperature: "hot" },
        },
        resources: { gpu: 2 ** 32 },
      },
    });
    expect(found.map((v) => v.field)).toEqual([
      "task.model",
      "task.inputs.stream",
      "task.inputs.parameters.max_tokens",
      "task.inputs.parameters.seed",
      "task.inputs.parameters.temperature",
      "task.verification",
      "task.resources.gpu",
    ]);
  });

  it("accepts enum numbers the enum has and refuses job state names it does not", () => {
    expect(checkJson(ListJobsRequestSchema, { states: [4, "failed", "JOB_STATE_QUEUED"] }).ok).toBe(true);
    const out = checkJson(ListJobsRequestSchema, { states: ["done"] });
    expect(out.ok).toBe(false);
  });

  it("lets the protobuf runtime check well-known types, at their field", () => {
    expect(
      checkJson(SubmitRequestSchema, {
        task: { ...task, inputs: { prompt: "hi", extras: { a: [1, { b: null }] } } },
      }).ok,
    ).toBe(true);
    expect(violations({ task: { ...task, inputs: { prompt: "hi", extras: [1] } } })[0]?.field).toBe(
      "task.inputs.extras",
    );
  });

  it("bounds nesting, the number of violations and the names it echoes", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = { a: deep };
    const nested = violations({ task: { ...task, inputs: { prompt: "hi", extras: deep } } });
    expect(nested[0]?.description).toContain("nested more than 32 levels");
    const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
    const listed = violations(many);
    expect(listed).toHaveLength(20);
    expect(listed.at(-1)?.description).toContain("and 980 more problems");
    const long = violations({ ["x".repeat(10_000)]: 1 });
    expect(long[0]!.field.length).toBeLessThan(80);
  });

  it("null is a field's default", () => {
    expect(checkJson(SubmitRequestSchema, { task: null, idempotency_key: null }).ok).toBe(true);
  });
});

describe("decodeJsonRequest", () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  it("refuses bytes that are not UTF-8 and text that is not JSON; an empty body is the empty message", () => {
    expect(decodeJsonRequest(SubmitRequestSchema, new Uint8Array([0x7b, 0xff, 0x7d]))).toMatchObject({
      error: { shortMessage: "the request body is not valid UTF-8" },
    });
    expect("error" in decodeJsonRequest(SubmitRequestSchema, bytes("{"))).toBe(true);
    expect(decodeJsonRequest(SubmitRequestSchema, bytes(""))).toEqual({ value: {} });
  });

  it("refuses unpaired surrogates in strings", () => {
    const out = decodeJsonRequest(SubmitRequestSchema, bytes('{"idempotency_key":"\\udc00"}'));
    expect("error" in out && out.error.violations[0]?.field).toBe("idempotency_key");
  });
});
