import { describe, expect, it } from "vitest";
import { outputFromResponseBody } from "./output-from-response-body.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("outputFromResponseBody", () => {
  it("chat.completion JSON", () => {
    expect(
      outputFromResponseBody(
        enc(
          JSON.stringify({
            object: "chat.completion",
            choices: [{ message: { role: "assistant", content: "héllo 👋" } }],
          }),
        ),
      ),
    ).toBe("héllo 👋");
  });
  it("null content is the empty string", () => {
    expect(outputFromResponseBody(enc('{"choices":[{"message":{"role":"assistant","content":null}}]}'))).toBe(
      "",
    );
  });
  it("SSE stream of chunks up to [DONE]", () => {
    const chunk = (c: string | undefined) =>
      `data: ${JSON.stringify({ object: "chat.completion.chunk", choices: [{ index: 0, delta: c === undefined ? { role: "assistant" } : { content: c } }] })}\n\n`;
    const body = `${chunk(undefined)}${chunk("Hel")}${chunk("lo")}: keep-alive\n\n${chunk(" world")}data: [DONE]\n\n${chunk("IGNORED")}`;
    expect(outputFromResponseBody(enc(body))).toBe("Hello world");
  });
  it("SSE with CRLF line endings and usage-only chunk", () => {
    const body =
      'data: {"choices":[{"delta":{"content":"a"}}]}\r\n\r\ndata: {"choices":[],"usage":{"total_tokens":1}}\r\n\r\ndata: [DONE]\r\n\r\n';
    expect(outputFromResponseBody(enc(body))).toBe("a");
  });
  it.each([["{not json"], ["plain text"], ['{"choices":[]}'], ["data: {oops}\n\n"]])(
    "throws InvalidInputError for %j",
    (body) => {
      expect(() => outputFromResponseBody(enc(body))).toThrow(
        expect.objectContaining({ name: "InvalidInputError", field: "response_body" }),
      );
    },
  );
  it("throws for non-bytes", () => {
    expect(() => outputFromResponseBody("x" as never)).toThrow(/response_body/);
  });
});
