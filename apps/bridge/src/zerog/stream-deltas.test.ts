import { outputFromResponseBody } from "@chaoschain/zerog-verifier";
import { describe, expect, it } from "vitest";
import { createSseDeltaReader } from "./openai.js";
import { createSseParser } from "./sse.js";

// The text a streamed job shows as it arrives is the text the verifier reads as the signed output: a hostile
// provider must not stream one text and sign another.

const encode = (s: string) => new TextEncoder().encode(s);
const chunk = (choices: unknown[]) => `data: ${JSON.stringify({ created: 1, choices })}\n\n`;

/** The deltas the bridge streams for `body`, fed in pieces of `size` bytes. */
function streamed(body: string, size = 7): string {
  let text = "";
  const read = createSseDeltaReader((d) => {
    text += d;
  });
  const bytes = encode(body);
  for (let i = 0; i < bytes.length; i += size) read(bytes.subarray(i, i + size));
  return text;
}

describe("streamed deltas are the verified output", () => {
  const hostile: Array<[string, string]> = [
    [
      "choice 0 listed second (n > 1)",
      `${chunk([
        { index: 1, delta: { content: "EVIL" } },
        { index: 0, delta: { content: "good" } },
      ])}data: [DONE]\n\n`,
    ],
    [
      "an event of another type",
      `event: note\n${chunk([{ index: 0, delta: { content: "EVIL" } }])}${chunk([{ index: 0, delta: { content: "good" } }])}data: [DONE]\n\n`,
    ],
  ];
  for (const [name, body] of hostile) {
    it(name, () => {
      expect(outputFromResponseBody(encode(body))).toBe("good");
      expect(streamed(body)).toBe("good");
    });
  }

  it("nothing after data: [DONE] is streamed", () => {
    const body = `${chunk([{ index: 0, delta: { content: "good" } }])}data: [DONE]\n\n${chunk([{ index: 0, delta: { content: "EVIL" } }])}`;
    expect(streamed(body)).toBe("good");
  });
});

describe("the SSE parser on a line without end", () => {
  // A complexity check, not a speed target: each byte is scanned once. Scanning the whole buffered line again
  // on every chunk took minutes (blocking the event loop) for this input; once, it takes milliseconds.
  it("a 32 MiB line in 4 KiB chunks is read in one pass", () => {
    let events = 0;
    const parser = createSseParser(() => {
      events++;
    });
    const piece = encode("x".repeat(4096));
    parser.push(encode("data: "));
    for (let i = 0; i < 8192; i++) parser.push(piece);
    parser.push(encode("\n\n"));
    expect(events).toBe(1);
  }, 20_000);
});
