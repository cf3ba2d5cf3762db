import { describe, expect, test } from "vitest";
import { countPromptTokens, generateCompletion, tokenize } from "./mock-model.js";

describe("mock model", () => {
  test("echoes the last user message, deterministically", () => {
    const messages = [
      { role: "system", content: "be brief" },
      { role: "user", content: "first" },
      { role: "assistant", content: "ok" },
      { role: "user", content: [{ type: "text", text: "Hello, 0G!" }] },
    ];
    const a = generateCompletion("llama-3-8b", messages);
    expect(a.text).toBe("llama-3-8b (0G devnet) heard: Hello, 0G!");
    expect(a).toEqual(generateCompletion("llama-3-8b", messages));
    expect(a.finishReason).toBe("stop");
    expect(a.completionTokens).toBe(a.tokens.length);
    expect(a.promptTokens).toBe(countPromptTokens(messages));
  });

  test("respects max_tokens", () => {
    const c = generateCompletion("m", [{ role: "user", content: "one two three four five" }], 3);
    expect(c.tokens).toHaveLength(3);
    expect(c.finishReason).toBe("length");
    expect(c.text).toBe(c.tokens.join(""));
  });

  test("tokens re-join to the text", () => {
    const text = "  a b,c  déjà-vu 42!";
    expect(tokenize(text).join("")).toBe(text.trimEnd());
  });
});
