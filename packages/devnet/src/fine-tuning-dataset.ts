import { messageText, tokenize } from "./mock-model.js";

/** One training example, normalised like the provider's JSONL → HF conversion ([Go] setup.go). */
export type TrainingExample = { instruction: string; input: string; output: string };

export type ParsedDataset = {
  examples: TrainingExample[];
  /** Tokens over every example (word/punctuation tokens, the devnet's tokenizer). */
  tokens: number;
};

/** Training parameters the devnet trainer reads (the rest of the JSON is kept but ignored). */
export type TrainingParams = {
  numTrainEpochs: number;
  loraR: number;
  loraAlpha: number;
  learningRate: number;
  raw: Record<string, unknown>;
};

/** Why a dataset or training-parameter file is refused; the text is what the task log shows. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/**
 * Parses a JSONL dataset the way the provider's conversion script reads it: every non-blank line is a
 * JSON object; the format of the first line decides for all (`messages` chat format, `text`, else
 * `instruction`/`input`/`output`). Throws {@link DatasetError} with the provider's message otherwise.
 *
 * @example
 * parseDataset(Buffer.from('{"instruction":"Say hi","output":"hi"}\n')).examples.length // 1
 */
export function parseDataset(bytes: Uint8Array): ParsedDataset {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new DatasetError("dataset is not valid JSONL: it is not UTF-8 encoded");
  }
  if (text.charCodeAt(0) === 0xfeff)
    throw new DatasetError("dataset is not valid JSONL: it starts with a BOM");
  const lines = text.split("\n").map((l) => l.trim());
  if (lines[0] === "" && lines.some((l) => l !== ""))
    throw new DatasetError("dataset is not valid JSONL: blank leading line");
  const records: Record<string, unknown>[] = [];
  for (const [i, line] of lines.entries()) {
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new DatasetError(`dataset is not valid JSONL: line ${i + 1} is not JSON`);
    }
    if (!value || typeof value !== "object" || Array.isArray(value))
      throw new DatasetError(`dataset is not valid JSONL: line ${i + 1} is not a JSON object`);
    records.push(value as Record<string, unknown>);
  }
  if (records.length === 0) throw new DatasetError("dataset is empty");
  const first = records[0] ?? {};
  const format =
    "messages" in first ? "messages" : "text" in first && !("instruction" in first) ? "text" : "alpaca";
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  const examples = records.map((r): TrainingExample => {
    if (format === "messages") {
      const messages = Array.isArray(r.messages)
        ? (r.messages as { role?: unknown; content?: unknown }[])
        : [];
      let instruction = "";
      let output = "";
      for (const m of messages) {
        if (m?.role === "user") instruction = messageText(m.content);
        else if (m?.role === "assistant") output = messageText(m.content);
      }
      return { instruction, input: "", output };
    }
    if (format === "text") return { instruction: "", input: "", output: str(r.text) };
    return { instruction: str(r.instruction), input: str(r.input), output: str(r.output) };
  });
  const tokens = examples.reduce(
    (n, e) => n + tokenize(e.instruction).length + tokenize(e.input).length + tokenize(e.output).length,
    0,
  );
  if (tokens === 0) throw new DatasetError("dataset has no text to train on");
  return { examples, tokens };
}

/**
 * Reads the training-parameter JSON (the SDK sends the file's text as `trainingParams`). Keys as in the
 * provider's `config.json` examples: `num_train_epochs` (1–100, default 1), `lora_r` (1–64, default 8),
 * `lora_alpha` (default 16), `learning_rate` (default 1e-4).
 *
 * @example
 * parseTrainingParams('{"num_train_epochs":2}').numTrainEpochs // 2
 */
export function parseTrainingParams(text: string): TrainingParams {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new DatasetError("training params are not valid JSON");
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw new DatasetError("training params must be a JSON object");
  const obj = raw as Record<string, unknown>;
  const int = (key: string, dflt: number, min: number, max: number) => {
    const v = obj[key] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      throw new DatasetError(`training params: ${key} must be an integer in ${min}..${max}`);
    return v;
  };
  const num = (key: string, dflt: number) => {
    const v = obj[key] ?? dflt;
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
      throw new DatasetError(`training params: ${key} must be a positive number`);
    return v;
  };
  return {
    numTrainEpochs: int("num_train_epochs", 1, 1, 100),
    loraR: int("lora_r", 8, 1, 64),
    loraAlpha: num("lora_alpha", 16),
    learningRate: num("learning_rate", 1e-4),
    raw: obj,
  };
}
