import { describe, expect, it } from "vitest";
import { outputFromResponseBody } from "./output-from-response-body.js";
import { readResponseBody } from "./read-response-body.js";

const enc = (s: string) => new TextEncoder().encode(s);
const chunk = (choices: object[], created = 5) =>
  `data: ${JSON.stringify({ object: "chat.completion.chunk", created, choices })}\n\n`;

describe("readResponseBody", () => {
  it("chat.completion JSON: choice 0's text and the signed created", () => {
    const body = {
      object: "chat.completion",
      created: 7,
      choices: [{ index: 0, message: { role: "assistant", content: "héllo 👋" } }],
    };
    expect(readResponseBody(enc(JSON.stringify(body)))).toEqual({
      format: "json",
      output: "héllo 👋",
      created: [7],
    });
  });
  it("usage: the body's token counts when whole and non-negative; in a stream the last chunk's", () => {
    const json = (usage: unknown) =>
      readResponseBody(enc(JSON.stringify({ choices: [{ index: 0, message: { content: "x" } }], usage })));
    expect(json({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }).usage).toEqual({
      promptTokens: 3,
      completionTokens: 4,
      totalTokens: 7,
    });
    expect(json({ prompt_tokens: 3, completion_tokens: 4 }).usage).toEqual({
      promptTokens: 3,
      completionTokens: 4,
      totalTokens: 7,
    });
    for (const bad of [
      undefined,
      null,
      5,
      { prompt_tokens: -1, completion_tokens: 4 },
      { prompt_tokens: 1.5, completion_tokens: 4 },
      { prompt_tokens: "3", completion_tokens: 4 },
      { prompt_tokens: 2 ** 53, completion_tokens: 4 },
    ])
      expect(json(bad)).not.toHaveProperty("usage");
    const usageChunk = (prompt: number, completion: number) =>
      `data: ${JSON.stringify({ created: 5, choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } })}\n\n`;
    const sse = `${chunk([{ index: 0, delta: { content: "Hi" } }])}${usageChunk(1, 1)}${usageChunk(9, 2)}data: [DONE]\n\n`;
    expect(readResponseBody(enc(sse))).toEqual({
      format: "sse",
      output: "Hi",
      created: [5],
      usage: { promptTokens: 9, completionTokens: 2, totalTokens: 11 },
    });
  });
  it("one byte order mark before a JSON body is read past, as a UTF-8 decoder does; a second is no JSON", () => {
    const json = JSON.stringify({ choices: [{ index: 0, message: { content: "x" } }] });
    expect(readResponseBody(enc(`\uFEFF${json}`)).output).toBe("x");
    expect(() => readResponseBody(enc(`\uFEFF\uFEFF${json}`))).toThrow(/not valid JSON/);
  });
  it("JSON with n > 1: the choice whose index is 0, wherever it is", () => {
    const body = {
      choices: [
        { index: 1, message: { content: "B" } },
        { index: 0, message: { content: "A" } },
      ],
    };
    expect(outputFromResponseBody(enc(JSON.stringify(body)))).toBe("A");
  });
  it("null content is the empty string", () => {
    expect(outputFromResponseBody(enc('{"choices":[{"message":{"role":"assistant","content":null}}]}'))).toBe(
      "",
    );
  });
  it("SSE: choice 0's deltas up to [DONE]; comments, role-only and usage chunks are fine", () => {
    const body = `${chunk([{ index: 0, delta: { role: "assistant" } }])}${chunk([{ index: 0, delta: { content: "Hel" } }])}: keep-alive\n\n${chunk([{ index: 0, delta: { content: "lo" } }])}${chunk([], 5)}data: [DONE]\n\n`;
    expect(readResponseBody(enc(body))).toEqual({ format: "sse", output: "Hello", created: [5] });
  });
  it("SSE with n = 2: other choices are not the output", () => {
    const body = `${chunk([{ index: 0, delta: { content: "A" } }])}${chunk([{ index: 1, delta: { content: "x" } }])}${chunk(
      [
        { index: 1, delta: { content: "y" } },
        { index: 0, delta: { content: "B" } },
      ],
    )}data: [DONE]\n\n`;
    expect(outputFromResponseBody(enc(body))).toBe("AB");
  });
  it.each(["\r", "\n", "\r\n"])("SSE with %j line ends", (eol) => {
    const body = `data: {"created":1,"choices":[{"index":0,"delta":{"content":"a"}}]}${eol}${eol}data: [DONE]${eol}${eol}`;
    expect(outputFromResponseBody(enc(body))).toBe("a");
  });
  it("reports every distinct created of a stream", () => {
    const body = `${chunk([{ index: 0, delta: { content: "a" } }], 5)}${chunk([{ index: 0, delta: { content: "b" } }], 9)}data: [DONE]\n\n`;
    expect(readResponseBody(enc(body)).created).toEqual([5, 9]);
  });
  it.each([
    ["{not json"],
    ["plain text"],
    ['{"choices":[]}'],
    ['{"choices":[{"index":0}]}'],
    ['{"choices":[{"message":{"content":[1]}}]}'],
    ["data: {oops}\n\n"],
    [`data: [DONE]\n\n${chunk([{ index: 0, delta: { content: "late" } }])}`],
    [`${chunk([{ index: 0, delta: { content: 7 } }])}data: [DONE]\n\n`],
  ])("throws InvalidInputError for %j", (body) => {
    expect(() => readResponseBody(enc(body))).toThrow(
      expect.objectContaining({ name: "InvalidInputError", field: "response_body" }),
    );
  });
  it("throws for non-bytes", () => {
    expect(() => outputFromResponseBody("x" as never)).toThrow(/response_body/);
  });
});
