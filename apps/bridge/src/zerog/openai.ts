import { type ComputeTask, chatCompletionRequest } from "@chaoschain/zerog-core";
import { createSseParser } from "./sse.js";

const encoder = new TextEncoder();

/**
 * The exact request body sent to the provider for an inference task: core's `chatCompletionRequest`
 * (what a client holding the task expects the enclave to have signed), as JSON.
 */
export function chatRequestBody(task: ComputeTask, servedModel: string): Uint8Array {
  const request = chatCompletionRequest(task, servedModel);
  if (!request) throw new TypeError("chatRequestBody: not an inference task");
  return encoder.encode(JSON.stringify(request));
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
