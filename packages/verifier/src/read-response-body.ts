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
 *
 * @throws {InvalidInputError} (field "response_body") when the body is neither form.
 * @example
 * readResponseBody(new TextEncoder().encode('{"created":1,"choices":[{"index":0,"message":{"content":"hi"}}]}'))
 * // { format: "json", output: "hi", created: [1] }
 */
export function readResponseBody(responseBody: Uint8Array): SignedResponse {
  if (!isBytes(responseBody)) throw new InvalidInputError("response_body", "expected bytes");
  const text = bytesToUtf8(responseBody).replace(/^\uFEFF/, "");
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
    return { format: "json", output: content(choice.message, "choices[0].message"), created: [...times] };
  }
  let output = "";
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
    const choices = (chunk as { choices?: unknown }).choices ?? [];
    if (!Array.isArray(choices)) throw bad("chunk choices is not an array");
    const choice = choiceZero(choices);
    if (choice) output += content(choice.delta, "choices[0].delta");
  }
  if (!sawData) throw bad("neither a chat.completion JSON body nor an SSE stream");
  return { format: "sse", output, created: [...times] };
}
