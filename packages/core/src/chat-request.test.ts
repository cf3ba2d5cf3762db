import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { chatCompletionRequest } from "./chat-request.js";
import { ComputeTaskSchema, TaskType } from "./gen/chaoschain/zerog/v1/compute_pb.js";
import { parseTask, type TaskInput } from "./task.js";

const task = (input: TaskInput) => {
  const parsed = parseTask(input);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.violations));
  return parsed.task;
};

describe("chatCompletionRequest", () => {
  it("maps a prompt to one user message, with the served model and the sampling parameters", () => {
    const t = task({
      task_type: "inference",
      model: "llama-3-8b",
      inputs: {
        prompt: "Hi",
        parameters: { max_tokens: 16, temperature: 0.7, top_p: 0.9, stop: ["\n"], seed: 7 },
        stream: true,
      },
    });
    expect(chatCompletionRequest(t, "llama-3-8b")).toEqual({
      model: "llama-3-8b",
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 16,
      temperature: 0.7,
      top_p: 0.9,
      stop: ["\n"],
      seed: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("keeps chat messages in order, and extras cannot replace the model, the messages or a parameter", () => {
    // Built directly: parseTask refuses such extras, but the mapping must not depend on it.
    const t = create(ComputeTaskSchema, {
      taskType: TaskType.INFERENCE,
      model: "m",
      inputs: {
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hi" },
        ],
        parameters: { temperature: 0 },
        extras: { model: "other", messages: [], temperature: 2, logprobs: true },
      },
    });
    expect(chatCompletionRequest(t, "m")).toEqual({
      model: "m",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Hi" },
      ],
      temperature: 0,
      logprobs: true,
    });
  });

  it("gives the README's example", () => {
    const parsed = parseTask({ task_type: "inference", model: "llama-3-8b", inputs: { prompt: "Hi" } });
    expect(parsed.ok && JSON.stringify(chatCompletionRequest(parsed.task, "llama-3-8b"))).toBe(
      '{"model":"llama-3-8b","messages":[{"role":"user","content":"Hi"}]}',
    );
  });

  it("is undefined for a task that is not inference", () => {
    const t = task({
      task_type: "fine-tuning",
      model: "Qwen2.5-0.5B-Instruct",
      inputs: { dataset: '{"a":1}\n' },
    });
    expect(chatCompletionRequest(t, "Qwen2.5-0.5B-Instruct")).toBeUndefined();
  });
});
