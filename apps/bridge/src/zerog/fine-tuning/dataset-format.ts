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
}

export const defaultDatasetFormatLimits: DatasetFormatLimits = {
  maxBytes: 100 * 1024 * 1024,
  maxExamples: 1_000_000,
};

const chatRoles = new Set(["system", "user", "assistant", "tool"]);

/**
 * Checks a fine-tuning dataset before anything is spent on it: UTF-8 JSONL (no BOM; `\n` or `\r\n` line
 * ends; no blank line but a final one), one JSON object per line, every record in the format of the
 * first:
 * - chat: `{"messages": [{"role": "system"|"user"|"assistant"|"tool", "content": "…"}, …]}` with at least
 *   one non-empty assistant message;
 * - instruction: `{"instruction": "…", "input"?: "…", "output": "…"}` (`response` may stand for `output`);
 * - text: `{"text": "…"}`, non-empty.
 * Returns the first problem found, naming its line; never throws on any input.
 *
 * @example
 * checkDataset(Buffer.from('{"instruction":"Say hi","output":"hi"}\n'))
 * // { ok: true, summary: { format: "instruction", examples: 1, bytes: 39 } }
 */
export function checkDataset(
  bytes: Uint8Array,
  limits: DatasetFormatLimits = defaultDatasetFormatLimits,
): CheckDatasetResult {
  const fail = (problem: string): CheckDatasetResult => ({ ok: false, problem });
  if (bytes.length === 0) return fail("the dataset is empty");
  if (bytes.length > limits.maxBytes)
    return fail(`the dataset is ${bytes.length} bytes; at most ${limits.maxBytes} are accepted`);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    return fail("the dataset starts with a byte-order mark; save it as UTF-8 without BOM");
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail("the dataset is not UTF-8 text");
  }
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.length > limits.maxExamples)
    return fail(`the dataset has ${lines.length} lines; at most ${limits.maxExamples} records are accepted`);
  let format: DatasetFormat | undefined;
  for (const [i, raw] of lines.entries()) {
    const at = `line ${i + 1}`;
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
  if (!format) return fail("the dataset has no records");
  return { ok: true, summary: { format, examples: lines.length, bytes: bytes.length } };
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
