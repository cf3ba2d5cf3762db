import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSseParser, parseSse, type SseEvent } from "./sse.js";

const enc = (s: string) => new TextEncoder().encode(s);

function inChunks(body: Uint8Array, cuts: number[]): SseEvent[] {
  const events: SseEvent[] = [];
  const p = createSseParser((e) => events.push(e));
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    p.push(body.subarray(at, cut));
    at = cut;
  }
  p.push(body.subarray(at));
  p.end();
  return events;
}

describe("SSE parser (HTML Living Standard §9.2.6)", () => {
  it("fields, comments, multi-line data, one leading space removed, event types", () => {
    const body =
      "\uFEFF: hi\nevent: ping\ndata:  two spaces\ndata:x\n\nid: 3\nretry: 10\ndata\n\nfield without data\n\n";
    expect(parseSse(enc(body))).toEqual([
      { type: "ping", data: " two spaces\nx" },
      { type: "message", data: "" },
    ]);
  });
  it("an event without its blank line at the end is not dispatched", () => {
    expect(parseSse(enc("data: a\n\ndata: b\n"))).toEqual([{ type: "message", data: "a" }]);
  });
  it.each(["\r", "\n", "\r\n"])("%j ends lines", (eol) => {
    expect(parseSse(enc(`data: a${eol}data: b${eol}${eol}data: c${eol}${eol}`)).map((e) => e.data)).toEqual([
      "a\nb",
      "c",
    ]);
  });
  it("a CR at the end of a chunk and its LF at the start of the next are one line end", () => {
    expect(inChunks(enc("data: a\r\n\r\ndata: b\r\n\r\n"), [8, 9, 10])).toEqual(
      parseSse(enc("data: a\n\ndata: b\n\n")),
    );
  });
  it("an empty chunk between a CR and its LF changes nothing", () => {
    expect(inChunks(enc("data: a\r\n\r\n"), [8, 8, 8]).map((e) => e.data)).toEqual(["a"]);
  });
  it("a UTF-8 character split across chunks", () => {
    const body = enc("data: 👋 héllo\n\n");
    for (let cut = 1; cut < body.length; cut++) expect(inChunks(body, [cut])[0]?.data).toBe("👋 héllo");
  });
  it("any split of any stream gives the same events (property)", () => {
    const line = fc.oneof(
      fc.constantFrom(
        "data: ",
        "data:",
        "event: x",
        ": c",
        "",
        "id: 1",
        "data: 👋",
        "data: é",
        "data: [DONE]",
      ),
      fc.string({ unit: "grapheme", maxLength: 8 }).map((s) => `data: ${s.replace(/[\r\n]/g, "")}`),
    );
    const stream = fc
      .tuple(fc.array(line, { maxLength: 12 }), fc.constantFrom("\n", "\r", "\r\n"))
      .map(([lines, eol]) => enc(lines.join(eol) + eol + eol));
    fc.assert(
      fc.property(
        stream.chain((body) => fc.tuple(fc.constant(body), fc.array(fc.nat(body.length), { maxLength: 6 }))),
        ([body, cuts]) => {
          expect(inChunks(body, cuts)).toEqual(parseSse(body));
        },
      ),
      { numRuns: 500, seed: 10 },
    );
  });
});
