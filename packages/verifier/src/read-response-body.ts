import { InvalidInputError } from "./errors/input.js";
import { bytesToUtf8, isBytes } from "./internal/bytes.js";
import { parseSse } from "./sse.js";

/** What the verifier reads from a signed chat-completion response body. */
export interface SignedResponse {
  format: "json" | "sse";
  /** The assistant text of choice 0 (see {@link readResponseBody}). */
  output: string;
  /** Every distinct `created` (unix seconds) the body carries: one for a well-formed response. */
  created: number[];
  /** The token counts the body reports, when it reports them (see {@link readResponseBody}). */
  usage?: SignedUsage;
}

/** OpenAI `usage`: tokens of the prompt and of the completion, and their total. */
export interface SignedUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

const bad = (problem: string, cause?: unknown) =>
  new InvalidInputError("response_body", problem, cause === undefined ? {} : { cause });

/** The choice with `index` 0 (a choice without `index` counts by its position). */
function choiceZero(choices: unknown[]): Record<string, unknown> | undefined {
  const found = choices.find((c, i) => ((c as { index?: unknown })?.index ?? i) === 0);
  return typeof found === "object" && found !== null ? (found as Record<string, unknown>) : undefined;
}

function content(part: unknown, where: string): string {
  const c = (part as { content?: unknown } | undefined)?.content;
  if (c === undefined || c === null) return "";
  if (typeof c !== "string") throw bad(`${where}.content is not text`);
  return c;
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** `usage` with whole, non-negative prompt and completion counts (total: as given, else their sum). */
function usageOf(obj: Record<string, unknown>): SignedUsage | undefined {
  const u = obj.usage;
  if (typeof u !== "object" || u === null) return undefined;
  const { prompt_tokens, completion_tokens, total_tokens } = u as Record<string, unknown>;
  if (!isCount(prompt_tokens) || !isCount(completion_tokens)) return undefined;
  const totalTokens = isCount(total_tokens) ? total_tokens : prompt_tokens + completion_tokens;
  return { promptTokens: prompt_tokens, completionTokens: completion_tokens, totalTokens };
}

function created(obj: Record<string, unknown>, into: Set<number>): void {
  if (typeof obj.created === "number" && Number.isSafeInteger(obj.created)) into.add(obj.created);
}

/**
 * Reads an OpenAI chat-completion response body exactly as the OpenAI format defines it:
 * - JSON `chat.completion`: the output is `message.content` of the choice whose `index` is 0;
 * - SSE stream of `chat.completion.chunk` events (any of CRLF, LF, CR line ends): the output is the
 *   concatenation of `delta.content` of the choices whose `index` is 0, up to `data: [DONE]`; other choices
 *   (`n` > 1) are not part of the output; an event after `[DONE]` is an error.
 * `created` is collected from the body (every chunk carries it in a stream): the signed response time.
 * `usage` is the body's `usage`, or in a stream the last chunk's that has one (with `stream_options:
 * {"include_usage": true}`, the chunk before `[DONE]`), when its prompt and completion counts are whole
 * and non-negative.
 *
 * @throws {InvalidInputError} (field "response_body") when the body is neither form.
 * @example
 * readResponseBody(new TextEncoder().encode('{"created":1,"choices":[{"index":0,"message":{"content":"hi"}}]}'))
 * // { format: "json", output: "hi", created: [1] }
 */
export function readResponseBody(responseBody: Uint8Array): SignedResponse {
  if (!isBytes(responseBody)) throw new InvalidInputError("response_body", "expected bytes");
  // The decoder reads past one byte order mark, as UTF-8 decoders do; a second one is text (not JSON).
  const text = bytesToUtf8(responseBody);
  const times = new Set<number>();
  if (text.trimStart().startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw bad("not valid JSON", e);
    }
    const choices = (obj as { choices?: unknown }).choices;
    if (!Array.isArray(choices)) throw bad("no choices");
    const choice = choiceZero(choices);
    if (!choice) throw bad("no choice with index 0");
    if (typeof choice.message !== "object" || choice.message === null) throw bad("choice 0 has no message");
    created(obj as Record<string, unknown>, times);
    const output = content(choice.message, "choices[0].message");
    const usage = usageOf(obj as Record<string, unknown>);
    return { format: "json", output, created: [...times], ...(usage ? { usage } : {}) };
  }
  let output = "";
  let usage: SignedUsage | undefined;
  let done = false;
  let sawData = false;
  for (const event of parseSse(responseBody)) {
    if (event.type !== "message") continue;
    if (done) throw bad("an event follows data: [DONE]");
    sawData = true;
    if (event.data === "[DONE]") {
      done = true;
      continue;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(event.data);
    } catch (e) {
      throw bad("SSE data is not JSON", e);
    }
    if (typeof chunk !== "object" || chunk === null) throw bad("SSE data is not a JSON object");
    created(chunk as Record<string, unknown>, times);
    usage = usageOf(chunk as Record<string, unknown>) ?? usage;
    const choices = (chunk as { choices?: unknown }).choices ?? [];
    if (!Array.isArray(choices)) throw bad("chunk choices is not an array");
    const choice = choiceZero(choices);
    if (choice) output += content(choice.delta, "choices[0].delta");
  }
  if (!sawData) throw bad("neither a chat.completion JSON body nor an SSE stream");
  return { format: "sse", output, created: [...times], ...(usage ? { usage } : {}) };
}
