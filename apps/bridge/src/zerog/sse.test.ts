import { readResponseBody } from "@chaoschain/zerog-verifier";
import { describe, expect, it } from "vitest";
import { createSseDeltaReader } from "./openai.js";
import { createSseParser, isEventStream, parseSse, type SseEvent } from "./sse.js";

const encode = (s: string) => new TextEncoder().encode(s);

// CRLF, CR and LF line ends, a comment, a multi-line event, an id, multibyte text split by a CR/LF
// pair, and a last event without its blank line.
const stream = encode(
  ": keep-alive\r\n" +
    'data: {"choices":[{"delta":{"content":"héllo 👋"}}]}\r\n\r\n' +
    "event: note\rid: 7\rdata: line one\rdata:line two\r\r" +
    'data: {"choices":[{"delta":{"content":" 世界"}}]}\n\n' +
    'data: {"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}\n\n' +
    "data: [DONE]",
);

const expected: SseEvent[] = [
  { event: "message", data: '{"choices":[{"delta":{"content":"héllo 👋"}}]}', id: "" },
  { event: "note", data: "line one\nline two", id: "7" },
  { event: "message", data: '{"choices":[{"delta":{"content":" 世界"}}]}', id: "7" },
  { event: "message", data: '{"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}', id: "7" },
  { event: "message", data: "[DONE]", id: "7" },
];

function parseInChunks(bytes: Uint8Array, cuts: number[]): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = createSseParser((e) => events.push(e));
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    parser.push(bytes.subarray(start, cut));
    start = cut;
  }
  parser.end();
  return events;
}

describe("createSseParser", () => {
  it("parses a whole stream", () => {
    expect(parseSse(stream)).toEqual(expected);
  });

  it("gives the same events however the bytes are split: at every position, and byte by byte", () => {
    for (let cut = 0; cut <= stream.length; cut++) expect(parseInChunks(stream, [cut])).toEqual(expected);
    expect(
      parseInChunks(
        stream,
        Array.from({ length: stream.length }, (_, i) => i),
      ),
    ).toEqual(expected);
  });

  it("keeps split UTF-8 intact (no U+FFFD)", () => {
    const events = parseInChunks(stream, [stream.indexOf(0xf0) + 1, stream.indexOf(0xe4) + 2]);
    expect(events.map((e) => e.data).join("")).not.toContain("\uFFFD");
  });

  it("dispatches on a blank line, not before", () => {
    const events: SseEvent[] = [];
    const parser = createSseParser((e) => events.push(e));
    parser.push(encode("data: a\n"));
    expect(events).toEqual([]);
    parser.push(encode("\n"));
    expect(events.map((e) => e.data)).toEqual(["a"]);
  });

  it("tells an event stream from a JSON body", () => {
    expect(isEventStream(stream)).toBe(true);
    expect(isEventStream(encode('  \ndata: {"a":1}\n\n'))).toBe(true);
    expect(isEventStream(encode('{"id":"x","choices":[]}'))).toBe(false);
  });
});

describe("the SSE readers of chat completions", () => {
  it("relay the assistant text as it streams in, however it is split", () => {
    for (let cut = 0; cut <= stream.length; cut += 7) {
      let text = "";
      const read = createSseDeltaReader((delta) => {
        text += delta;
      });
      read(stream.subarray(0, cut));
      read(stream.subarray(cut));
      expect(text).toBe("héllo 👋 世界");
    }
  });

  it("find the usage of a streamed and of a JSON completion", () => {
    // The bridge reads a result's usage with the verifier's readResponseBody, as a client checking it does.
    expect(readResponseBody(stream).usage).toEqual({ promptTokens: 3, completionTokens: 4, totalTokens: 7 });
    expect(
      readResponseBody(
        encode(
          '{"choices":[{"index":0,"message":{"content":"hi"}}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}',
        ),
      ).usage,
    ).toEqual({ promptTokens: 1, completionTokens: 2, totalTokens: 3 });
  });
});
