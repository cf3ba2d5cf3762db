import { isUtf8 } from "node:buffer";

/** The three JSONL record shapes 0G's fine-tuning script reads (`train_lora.py` format_instruction). */
export type DatasetFormat = "chat" | "instruction" | "text";

export interface DatasetSummary {
  format: DatasetFormat;
  /** Records (non-blank lines). */
  examples: number;
  bytes: number;
}

export type CheckDatasetResult = { ok: true; summary: DatasetSummary } | { ok: false; problem: string };

/** Limits of {@link checkDataset}. */
export interface DatasetFormatLimits {
  /** Largest dataset, bytes. The provider's upload route refuses more than 100 MiB. */
  maxBytes: number;
  /** Most records. */
  maxExamples: number;
  /**
   * Largest record (one line, without its line end), bytes; default 4 MiB, more than any model's context.
   * A record is parsed in one piece, holding the event loop meanwhile: this bounds how long.
   */
  maxRecordBytes?: number | undefined;
}

export const defaultDatasetFormatLimits: DatasetFormatLimits = {
  maxBytes: 100 * 1024 * 1024,
  maxExamples: 1_000_000,
  maxRecordBytes: 4 * 1024 * 1024,
};

const chatRoles = new Set(["system", "user", "assistant", "tool"]);

/** Bytes of dataset checked between two turns of the event loop (a few ms of work). */
const sliceBytes = 1024 * 1024;

/** Resolves on the event loop's next turn: long work awaits it so that other callbacks run meanwhile. */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Checks a fine-tuning dataset before anything is spent on it: UTF-8 JSONL (no BOM; `\n` or `\r\n` line
 * ends; no blank line but a final one), one JSON object per line, every record in the format of the
 * first:
 * - chat: `{"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": "…"}, …]}` with at least
 *   one non-empty assistant message;
 * - instruction: `{"instruction": "…", "input"?: "…", "output": "…"}` (`response` may stand for `output`);
 * - text: `{"text": "…"}`, non-empty.
 * Returns the first problem found, naming its line; never throws on any input. Works through the
 * dataset about 1 MiB at a time (whole lines), yielding to the event loop in between.
 *
 * @example
 * await checkDataset(Buffer.from('{"instruction":"Say hi","output":"hi"}\n'))
 * // { ok: true, summary: { format: "instruction", examples: 1, bytes: 39 } }
 */
export async function checkDataset(
  bytes: Uint8Array,
  limits: DatasetFormatLimits = defaultDatasetFormatLimits,
): Promise<CheckDatasetResult> {
  const fail = (problem: string): CheckDatasetResult => ({ ok: false, problem });
  if (bytes.length === 0) return fail("the dataset is empty");
  if (bytes.length > limits.maxBytes)
    return fail(`the dataset is ${bytes.length} bytes; at most ${limits.maxBytes} are accepted`);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return fail("the dataset starts with a byte-order mark; save it as UTF-8 without BOM");
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  // First the whole file's encoding and record count, then its records: the same first problem as a
  // check of the whole text at once.
  const maxRecordBytes = limits.maxRecordBytes ?? defaultDatasetFormatLimits.maxRecordBytes!;
  let newlines = 0;
  // The first record over maxRecordBytes, reported when the check of the records reaches its line.
  let long: { line: number; bytes: number; start: number } | undefined;
  for (const slice of lineSlices(data)) {
    if (!isUtf8(slice)) return fail("the dataset is not UTF-8 text");
    for (let start = 0, at = slice.indexOf(0x0a); ; at = slice.indexOf(0x0a, at + 1)) {
      const end = at === -1 ? slice.length : at;
      const bytes = end - start - (end > start && slice[end - 1] === 0x0d ? 1 : 0);
      if (!long && bytes > maxRecordBytes)
        long = { line: newlines + 1, bytes, start: slice.byteOffset - data.byteOffset + start };
      if (at === -1) break;
      newlines++;
      start = at + 1;
    }
    await nextTurn();
  }
  const lineCount = newlines + (data.at(-1) === 0x0a ? 0 : 1);
  if (lineCount > limits.maxExamples)
    return fail(`the dataset has ${lineCount} lines; at most ${limits.maxExamples} records are accepted`);
  // ignoreBOM: a U+FEFF at the start of a slice is part of its first line, as in the whole text.
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let format: DatasetFormat | undefined;
  let lineNumber = 0;
  for (const whole of lineSlices(data)) {
    // The lines before the long record, if it is in this slice: it is never decoded or parsed.
    const offset = whole.byteOffset - data.byteOffset;
    const slice = long && long.start < offset + whole.length ? whole.subarray(0, long.start - offset) : whole;
    const lines = decoder.decode(slice).split("\n");
    if (lines.at(-1) === "") lines.pop();
    for (const raw of lines) {
      const at = `line ${++lineNumber}`;
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line.trim() === "") return fail(`${at} is blank; give one JSON object per line`);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return fail(`${at} is not JSON`);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value))
        return fail(`${at} is not a JSON object`);
      const record = value as Record<string, unknown>;
      format ??= formatOf(record);
      if (!format) {
        return fail(
          `${at}: unknown record shape; use {"messages": [...]}, {"instruction": "…", "output": "…"} or {"text": "…"}`,
        );
      }
      const problem = recordProblem(record, format);
      if (problem) return fail(`${at}: ${problem}`);
    }
    if (long && slice !== whole)
      return fail(
        `line ${long.line} is ${long.bytes} bytes; a record may be at most ${sizeText(maxRecordBytes)}`,
      );
    await nextTurn();
  }
  if (!format) return fail("the dataset has no records");
  return { ok: true, summary: { format, examples: lineCount, bytes: bytes.length } };
}

function sizeText(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / 1024 / 1024} MiB` : `${bytes} bytes`;
}

/** The data in slices of about {@link sliceBytes}, each ending after a newline (or at the end): whole lines, whole characters. */
function* lineSlices(data: Buffer): Generator<Buffer> {
  for (let start = 0; start < data.length; ) {
    const newline = data.indexOf(0x0a, Math.min(start + sliceBytes, data.length) - 1);
    const end = newline === -1 ? data.length : newline + 1;
    yield data.subarray(start, end);
    start = end;
  }
}

function formatOf(record: Record<string, unknown>): DatasetFormat | undefined {
  if ("messages" in record) return "chat";
  if ("instruction" in record) return "instruction";
  if ("text" in record) return "text";
  return undefined;
}

const isText = (v: unknown): v is string => typeof v === "string";

function recordProblem(record: Record<string, unknown>, format: DatasetFormat): string | undefined {
  if (format === "text") {
    if (!isText(record.text) || record.text.trim() === "")
      return 'expected {"text": "…"} with non-empty text, like line 1';
    return undefined;
  }
  if (format === "instruction") {
    const output = record.output ?? record.response;
    if (!isText(record.instruction) || !isText(output))
      return 'expected {"instruction": "…", "output": "…"} with string values, like line 1';
    if (record.input !== undefined && !isText(record.input)) return '"input" must be a string';
    if (record.instruction.trim() === "" && output.trim() === "") return "instruction and output are empty";
    return undefined;
  }
  const { messages } = record;
  if (!Array.isArray(messages) || messages.length === 0)
    return 'expected {"messages": [{"role": …, "content": …}, …]} with at least one message, like line 1';
  let answered = false;
  for (const [j, m] of messages.entries()) {
    const role = (m as { role?: unknown } | null)?.role;
    const content = (m as { content?: unknown } | null)?.content;
    if (!isText(role) || !chatRoles.has(role))
      return `messages[${j}].role must be one of ${[...chatRoles].join(", ")}`;
    if (!isText(content)) return `messages[${j}].content must be a string`;
    if (role === "assistant" && content.trim() !== "") answered = true;
  }
  return answered ? undefined : "no assistant message with content to learn from";
}
