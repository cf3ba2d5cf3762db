import { describe, expect, it } from "vitest";
import { checkDataset } from "./dataset-format.js";

const check = (text: string | Uint8Array, limits?: Parameters<typeof checkDataset>[1]) =>
  checkDataset(typeof text === "string" ? Buffer.from(text) : text, limits);
const problem = (text: string | Uint8Array) => {
  const r = check(text);
  return r.ok ? undefined : r.problem;
};

describe("checkDataset", () => {
  it("accepts the three formats, with \\n or \\r\\n line ends and one final newline", () => {
    expect(
      check('{"instruction":"Say hi","output":"hi"}\n{"instruction":"Count","input":"3","output":"1 2 3"}\n'),
    ).toEqual({
      ok: true,
      summary: { format: "instruction", examples: 2, bytes: 92 },
    });
    expect(
      check('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\r\n'),
    ).toMatchObject({ ok: true, summary: { format: "chat", examples: 1 } });
    expect(check('{"text":"a"}\n{"text":"b"}')).toMatchObject({
      ok: true,
      summary: { format: "text", examples: 2 },
    });
    expect(check('{"instruction":"q","response":"a"}')).toMatchObject({ ok: true });
  });

  it("refuses what the provider would fail on, naming the line", () => {
    expect(problem("")).toBe("the dataset is empty");
    expect(problem("\n")).toBe("line 1 is blank; give one JSON object per line");
    expect(problem('{"text":"a"}\n\n{"text":"b"}\n')).toBe("line 2 is blank; give one JSON object per line");
    expect(problem('{"text":"a"}\nnot json\n')).toBe("line 2 is not JSON");
    expect(problem('{"text":"a"}\n[1,2]\n')).toBe("line 2 is not a JSON object");
    expect(problem('{"text":"a"}\n"text"\n')).toBe("line 2 is not a JSON object");
    expect(problem('{"prompt":"a","completion":"b"}')).toMatch(/^line 1: unknown record shape/);
    expect(problem('{"text":"a"}\n{"instruction":"q","output":"a"}')).toMatch(/^line 2: expected \{"text"/);
    expect(problem('{"text":"   "}')).toMatch(/^line 1: expected \{"text"/);
    expect(problem('{"instruction":"q","output":3}')).toMatch(/^line 1: expected \{"instruction"/);
    expect(problem('{"instruction":"q","output":"a","input":{}}')).toBe('line 1: "input" must be a string');
    expect(problem('{"instruction":"","output":" "}')).toBe("line 1: instruction and output are empty");
    expect(problem('{"messages":[]}')).toMatch(/^line 1: expected \{"messages"/);
    expect(problem('{"messages":[{"role":"robot","content":"x"}]}')).toMatch(/^line 1: messages\[0\]\.role/);
    expect(problem('{"messages":[null]}')).toMatch(/^line 1: messages\[0\]\.role/);
    expect(problem('{"messages":[{"role":"user","content":["x"]}]}')).toBe(
      "line 1: messages[0].content must be a string",
    );
    expect(problem('{"messages":[{"role":"user","content":"hi"}]}')).toBe(
      "line 1: no assistant message with content to learn from",
    );
  });

  it("refuses a BOM, invalid UTF-8 and sizes over the limits", () => {
    expect(problem(Buffer.from('\ufeff{"text":"a"}'))).toMatch(/byte-order mark/);
    expect(problem(Buffer.from([0x7b, 0xff, 0x7d]))).toBe("the dataset is not UTF-8 text");
    expect(check('{"text":"abc"}', { maxBytes: 10, maxExamples: 10 })).toEqual({
      ok: false,
      problem: "the dataset is 14 bytes; at most 10 are accepted",
    });
    expect(check('{"text":"a"}\n{"text":"b"}\n', { maxBytes: 100, maxExamples: 1 })).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/at most 1 records/),
    });
  });

  it("never throws on hostile input (deep nesting, prototype keys)", () => {
    const deep = `{"text":"a","x":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
    expect(check(deep).ok).toBeTypeOf("boolean");
    expect(problem('{"__proto__":{"text":"x"}}')).toMatch(/unknown record shape/);
  });
});
