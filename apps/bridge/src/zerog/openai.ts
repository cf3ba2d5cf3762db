import { type ComputeTask, chatCompletionRequest } from "@chaoschain/zerog-core";
import { createSseParser, isEventStream, parseSse } from "./sse.js";

/** OpenAI `usage` of a chat completion. */
export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The exact request body sent to the provider for an inference task: core's `chatCompletionRequest`
 * (what a client holding the task expects the enclave to have signed), as JSON.
 */
export function chatRequestBody(task: ComputeTask, servedModel: string): Uint8Array {
  const request = chatCompletionRequest(task, servedModel);
  if (!request) throw new TypeError("chatRequestBody: not an inference task");
  return encoder.encode(JSON.stringify(request));
}

/** Usage of a JSON completion or of an SSE stream (its last chunk that carries usage). */
export function usageFromResponseBody(body: Uint8Array): ChatUsage | undefined {
  const docs = isEventStream(body)
    ? parseSse(body)
        .map((e) => e.data)
        .filter((d) => d !== "[DONE]")
    : [decoder.decode(body)];
  let usage: ChatUsage | undefined;
  for (const doc of docs) {
    try {
      usage = tokenCounts((JSON.parse(doc) as { usage?: unknown } | null)?.usage) ?? usage;
    } catch {}
  }
  return usage;
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

/** A `usage` whose counts are whole and non-negative (the fee is computed from them in BigInt), else undefined. */
function tokenCounts(u: unknown): ChatUsage | undefined {
  const { prompt_tokens, completion_tokens, total_tokens } = (u ?? {}) as Record<string, unknown>;
  if (!isCount(prompt_tokens) || !isCount(completion_tokens)) return undefined;
  return {
    prompt_tokens,
    completion_tokens,
    total_tokens: isCount(total_tokens) ? total_tokens : prompt_tokens + completion_tokens,
  };
}

/** The choice with `index` 0 (one without `index` counts by its position): the verifier's rule. */
function choiceZero(choices: unknown): { delta?: { content?: unknown } } | undefined {
  if (!Array.isArray(choices)) return undefined;
  const found = choices.find((c, i) => ((c as { index?: unknown } | null)?.index ?? i) === 0) as unknown;
  return typeof found === "object" && found !== null ? found : undefined;
}

/**
 * Incremental SSE reader: feed it the body chunks of a streamed completion as they arrive and it
 * calls `onDelta` with each piece of assistant text, read as the verifier reads the signed output
 * (`readResponseBody`): `message` events only, `delta.content` of the choice with index 0, nothing after
 * `data: [DONE]`. A stream that breaks these rules fails verification; the text streamed until then is
 * what the verifier would read from it.
 */
export function createSseDeltaReader(onDelta: (text: string) => void): (chunk: Uint8Array) => void {
  let done = false;
  const parser = createSseParser(({ event, data }) => {
    if (done || event !== "message") return;
    if (data === "[DONE]") {
      done = true;
      return;
    }
    try {
      const delta = choiceZero((JSON.parse(data) as { choices?: unknown } | null)?.choices)?.delta?.content;
      if (typeof delta === "string" && delta !== "") onDelta(delta);
    } catch {}
  });
  return (chunk) => parser.push(chunk);
}
