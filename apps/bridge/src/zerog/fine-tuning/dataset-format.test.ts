import { describe, expect, it } from "vitest";
import { bigDataset, turnsDuring } from "../../../test/event-loop.js";
import { checkDataset } from "./dataset-format.js";

const check = (text: string | Uint8Array, limits?: Parameters<typeof checkDataset>[1]) =>
  checkDataset(typeof text === "string" ? Buffer.from(text) : text, limits);
const problem = async (text: string | Uint8Array) => {
  const r = await check(text);
  return r.ok ? undefined : r.problem;
};

describe("checkDataset", () => {
  it("accepts the three formats, with \\n or \\r\\n line ends and one final newline", async () => {
    expect(
      await check(
        '{"instruction":"Say hi","output":"hi"}\n{"instruction":"Count","input":"3","output":"1 2 3"}\n',
      ),
    ).toEqual({
      ok: true,
      summary: { format: "instruction", examples: 2, bytes: 92 },
    });
    expect(
      await check('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\r\n'),
    ).toMatchObject({ ok: true, summary: { format: "chat", examples: 1 } });
    expect(await check('{"text":"a"}\n{"text":"b"}')).toMatchObject({
      ok: true,
      summary: { format: "text", examples: 2 },
    });
    expect(await check('{"instruction":"q","response":"a"}')).toMatchObject({ ok: true });
  });

  it("refuses what the provider would fail on, naming the line", async () => {
    expect(await problem("")).toBe("the dataset is empty");
    expect(await problem("\n")).toBe("line 1 is blank; give one JSON object per line");
    expect(await problem('{"text":"a"}\n\n{"text":"b"}\n')).toBe(
      "line 2 is blank; give one JSON object per line",
    );
    expect(await problem('{"text":"a"}\nnot json\n')).toBe("line 2 is not JSON");
    expect(await problem('{"text":"a"}\n[1,2]\n')).toBe("line 2 is not a JSON object");
    expect(await problem('{"text":"a"}\n"text"\n')).toBe("line 2 is not a JSON object");
    expect(await problem('{"prompt":"a","completion":"b"}')).toMatch(/^line 1: unknown record shape/);
    expect(await problem('{"text":"a"}\n{"instruction":"q","output":"a"}')).toMatch(
      /^line 2: expected \{"text"/,
    );
    expect(await problem('{"text":"   "}')).toMatch(/^line 1: expected \{"text"/);
    expect(await problem('{"instruction":"q","output":3}')).toMatch(/^line 1: expected \{"instruction"/);
    expect(await problem('{"instruction":"q","output":"a","input":{}}')).toBe(
      'line 1: "input" must be a string',
    );
    expect(await problem('{"instruction":"","output":" "}')).toBe("line 1: instruction and output are empty");
    expect(await problem('{"messages":[]}')).toMatch(/^line 1: expected \{"messages"/);
    expect(await problem('{"messages":[{"role":"robot","content":"x"}]}')).toMatch(
      /^line 1: messages\[0\]\.role/,
    );
    expect(await problem('{"messages":[null]}')).toMatch(/^line 1: messages\[0\]\.role/);
    expect(await problem('{"messages":[{"role":"user","content":["x"]}]}')).toBe(
      "line 1: messages[0].content must be a string",
    );
    expect(await problem('{"messages":[{"role":"user","content":"hi"}]}')).toBe(
      "line 1: no assistant message with content to learn from",
    );
  });

  it("refuses a BOM, invalid UTF-8 and sizes over the limits", async () => {
    expect(await problem(Buffer.from('\ufeff{"text":"a"}'))).toMatch(/byte-order mark/);
    expect(await problem(Buffer.from([0x7b, 0xff, 0x7d]))).toBe("the dataset is not UTF-8 text");
    expect(await check('{"text":"abc"}', { maxBytes: 10, maxExamples: 10 })).toEqual({
      ok: false,
      problem: "the dataset is 14 bytes; at most 10 are accepted",
    });
    expect(await check('{"text":"a"}\n{"text":"b"}\n', { maxBytes: 100, maxExamples: 1 })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/at most 1 records/),
    });
  });

  it("refuses a record over its size limit by its line, before parsing it (one long line would hold the event loop)", async () => {
    const record = `{"text":"${"x".repeat(5 * 1024 * 1024)}"}`;
    expect(await problem(`{"text":"a"}\n${record}\n{"text":"b"}\n`)).toBe(
      `line 2 is ${record.length} bytes; a record may be at most 4 MiB`,
    );
    // The first problem in line order still comes first.
    expect(await problem(`not json\n${record}\n`)).toBe("line 1 is not JSON");
    // \r\n line ends count as the line's end, not the record's.
    const limits = { maxBytes: 1000, maxExamples: 10, maxRecordBytes: 12 };
    expect(await check('{"text":"a"}\r\n{"text":"ab"}\r\n', limits)).toEqual({
      ok: false,
      problem: "line 2 is 13 bytes; a record may be at most 12 bytes",
    });
    expect(await check('{"text":"a"}\r\n{"text":"b"}', limits)).toMatchObject({ ok: true });
  });

  it("checks a line that starts with U+FEFF after the first as the provider reads it: not JSON", async () => {
    expect(await problem('{"text":"a"}\n\ufeff{"text":"b"}\n')).toBe("line 2 is not JSON");
    // Far from the start too (past the first slice of work).
    const long = `${'{"text":"a"}\n'.repeat(200_000)}\ufeff{"text":"b"}\n`;
    expect(await problem(long)).toBe("line 200001 is not JSON");
  });

  it("reports the first problem in the order a whole-file check would: UTF-8, then the record count, then lines", async () => {
    const lines = '{"text":"a"}\n'.repeat(200_000);
    const badUtf8 = Buffer.concat([Buffer.from(`not json\n${lines}`), Buffer.from([0xc3, 0x28, 0x0a])]);
    expect(await problem(badUtf8)).toBe("the dataset is not UTF-8 text");
    expect(await check(`not json\n${lines}`, { maxBytes: 10 * 1024 * 1024, maxExamples: 100_000 })).toEqual({
      ok: false,
      problem: "the dataset has 200001 lines; at most 100000 records are accepted",
    });
    expect(await check(`${lines}{"text":"b"}`)).toEqual({
      ok: true,
      summary: { format: "text", examples: 200_001, bytes: 200_001 * 13 - 1 },
    });
  });

  it("yields to the event loop as it works: at least once per 2 MiB checked (no I/O here: every turn is a yield)", async () => {
    const bytes = Buffer.from(bigDataset(16 * 1024 * 1024));
    const { result, turns } = await turnsDuring(() => checkDataset(bytes));
    expect(result).toMatchObject({ ok: true, summary: { format: "instruction" } });
    expect(turns).toBeGreaterThanOrEqual(8);
  });

  it("never throws on hostile input (deep nesting, prototype keys)", async () => {
    const deep = `{"text":"a","x":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
    expect((await check(deep)).ok).toBeTypeOf("boolean");
    expect(await problem('{"__proto__":{"text":"x"}}')).toMatch(/unknown record shape/);
  });
});
