import { InvalidInputError } from "./errors/input.js";
import { bytesToUtf8, isBytes } from "./internal/bytes.js";

export type OutputFromResponseBodyErrorType = InvalidInputError;

function contentOf(obj: unknown, key: "message" | "delta"): string | undefined {
  const choices = (obj as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const c = (choices[0] as Record<string, unknown>)?.[key] as { content?: unknown } | undefined;
  return typeof c?.content === "string" ? c.content : undefined;
}

/**
 * The assistant text of an OpenAI chat-completion response body: `choices[0].message.content` of a JSON
 * `chat.completion`, or, for an SSE stream of `chat.completion.chunk` events, the concatenation of every
 * `choices[0].delta.content` up to `data: [DONE]`. The single place output extraction lives (the bridge
 * reuses it), so the verifier can check a result's `output` against the signed response bytes.
 *
 * @throws {InvalidInputError} (field "response_body") when the body is neither form.
 * @example
 * outputFromResponseBody(new TextEncoder().encode('{"choices":[{"message":{"content":"hi"}}]}')) // "hi"
 */
export function outputFromResponseBody(responseBody: Uint8Array): string {
  if (!isBytes(responseBody)) throw new InvalidInputError("response_body", "expected bytes");
  const text = bytesToUtf8(responseBody).replace(/^\uFEFF/, "");
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new InvalidInputError("response_body", "not valid JSON", { cause: e });
    }
    const content = contentOf(obj, "message");
    if (content === undefined) {
      const ch = (obj as { choices?: Array<{ message?: { content?: unknown } }> }).choices?.[0]?.message;
      if (ch && (ch.content === null || ch.content === undefined)) return "";
      throw new InvalidInputError("response_body", "no choices[0].message.content");
    }
    return content;
  }
  // SSE: events separated by blank lines; only `data:` fields matter.
  let out = "";
  let sawData = false;
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).replace(/^ /, ""))
      .join("\n");
    if (data === "") continue;
    sawData = true;
    if (data.trim() === "[DONE]") return out;
    let obj: unknown;
    try {
      obj = JSON.parse(data);
    } catch (e) {
      throw new InvalidInputError("response_body", "SSE data is not JSON", { cause: e });
    }
    out += contentOf(obj, "delta") ?? "";
  }
  if (!sawData)
    throw new InvalidInputError("response_body", "neither a chat.completion JSON body nor an SSE stream");
  return out;
}
