import { parseTask, type TaskInput } from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import { expectedRequest, RecentRequests, requestDifferences } from "./task-check.js";

const taskOf = (input: TaskInput) => {
  const parsed = parseTask(input);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.violations));
  return parsed.task;
};
const asked = taskOf({
  task_type: "inference",
  model: "llama-3-8b",
  inputs: { prompt: "What is 0G?", parameters: { temperature: 0.2, max_tokens: 64 }, extras: { user: "a" } },
});
const expected = expectedRequest(asked) as string;
const body = (text: string) => new TextEncoder().encode(text);
const sent = {
  user: "a",
  model: "llama-3-8b",
  messages: [{ role: "user", content: "What is 0G?" }],
  max_tokens: 64,
  temperature: 0.2,
};

describe("requestDifferences", () => {
  it("finds none in the request the bridge sends for the task, in any key order", () => {
    expect(requestDifferences(expected, body(JSON.stringify(sent)))).toEqual([]);
    const reordered = {
      temperature: 0.2,
      messages: [{ content: "What is 0G?", role: "user" }],
      max_tokens: 64,
      model: "llama-3-8b",
      user: "a",
    };
    expect(requestDifferences(expected, body(JSON.stringify(reordered)))).toEqual([]);
  });

  it("names the fields of another request: other messages, model, parameters, or a field added", () => {
    const other = { ...sent, messages: [{ role: "user", content: "What is Bitcoin?" }] };
    expect(requestDifferences(expected, body(JSON.stringify(other)))).toEqual(["messages"]);
    const cheaper = { ...sent, model: "llama-3-1b", max_tokens: 1 };
    expect(requestDifferences(expected, body(JSON.stringify(cheaper)))).toEqual(["max_tokens", "model"]);
    const steered = { ...sent, logit_bias: { "1234": 100 } };
    expect(requestDifferences(expected, body(JSON.stringify(steered)))).toEqual(["logit_bias"]);
    const { temperature: _, ...dropped } = sent;
    expect(requestDifferences(expected, body(JSON.stringify(dropped)))).toEqual(["temperature"]);
  });

  it("tells apart two jobs of one prompt given values of their own (extras.user, README)", () => {
    const other = { ...sent, user: "b" };
    expect(requestDifferences(expected, body(JSON.stringify(other)))).toEqual(["user"]);
  });

  it("refuses a body a provider may read otherwise than JSON.parse: a repeated key, spaces, escapes", () => {
    const text = JSON.stringify(sent);
    // A provider whose parser keeps the first "messages" answers What is Bitcoin?; JSON.parse keeps the last.
    const repeated = `{"messages":[{"role":"user","content":"What is Bitcoin?"}],${text.slice(1)}`;
    expect(JSON.parse(repeated)).toEqual(sent);
    expect(requestDifferences(expected, body(repeated))).toEqual(["(body)"]);
    expect(requestDifferences(expected, body(JSON.stringify(sent, null, 1)))).toEqual(["(body)"]);
    expect(requestDifferences(expected, body(text.replace("What", "\\u0057hat")))).toEqual(["(body)"]);
    // A byte order mark: TextDecoder drops it by default, and a parser that does not (Go's) refuses the body.
    expect(requestDifferences(expected, body(`\uFEFF${text}`))).toEqual(["(body)"]);
  });

  it("names a field whose name is an Object.prototype member, __proto__ included", () => {
    // JSON.parse makes "__proto__" an own field; read on the task's request it would be Object.prototype ({}).
    const text = JSON.stringify(sent);
    for (const extra of ['"__proto__":{}', '"constructor":{}', '"toString":"x"']) {
      expect(requestDifferences(expected, body(`{${extra},${text.slice(1)}`))).toEqual([extra.split('"')[1]]);
    }
  });

  it("answers, never throws, for a body that is not a JSON object, not UTF-8, or nested too deep", () => {
    for (const text of ["", "null", "[]", '"x"', "{", "\u0000"]) {
      expect(requestDifferences(expected, body(text))).toEqual(["(body)"]);
    }
    expect(requestDifferences(expected, new Uint8Array([0x7b, 0xff, 0x7d]))).toEqual(["(body)"]);
    const deep = `{"model":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
    expect(requestDifferences(expected, body(deep))).toEqual(["(body)"]);
  });
});

describe("expectedRequest", () => {
  it("is undefined for a task that sends no chat request (fine-tuning)", () => {
    const ft = taskOf({
      task_type: "fine-tuning",
      model: "Qwen2.5-0.5B-Instruct",
      inputs: { dataset: '{"a":1}\n' },
    });
    expect(expectedRequest(ft)).toBeUndefined();
  });
});

describe("RecentRequests", () => {
  it("forgets the oldest beyond its count or its characters, and keeps none longer than all of them", () => {
    const recent = new RecentRequests({ count: 3, chars: 10 });
    for (const id of ["a", "b", "c", "d"]) recent.set(id, "xx");
    expect(["a", "b", "c", "d"].map((id) => recent.get(id))).toEqual([undefined, "xx", "xx", "xx"]);
    recent.set("e", "yyyyyyy"); // 2 + 2 + 7 > 10: b and c go
    expect(["b", "c", "d", "e"].map((id) => recent.get(id))).toEqual([undefined, undefined, "xx", "yyyyyyy"]);
    recent.set("f", "z".repeat(11));
    expect(recent.get("f")).toBeUndefined();
    recent.set("d", "w"); // set again: replaced, counted once
    expect([recent.get("d"), recent.get("e")]).toEqual(["w", "yyyyyyy"]);
  });
});
