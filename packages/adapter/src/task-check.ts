import { type ComputeTask, chatCompletionRequest } from "@chaoschain/zerog-core";

/**
 * The request a task maps to (core's `chatCompletionRequest`, with the task's own model), as JSON with
 * sorted keys: what the enclave must have signed for a result to answer this task. Undefined for tasks
 * that send no chat request (fine-tuning, training).
 */
export function expectedRequest(task: ComputeTask): string | undefined {
  const request = chatCompletionRequest(task, task.model);
  return request ? sortedJson(request) : undefined;
}

// ignoreBOM: a byte order mark stays in the text, so the body is not in the form JSON.stringify writes.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The top-level fields in which a proof's signed request body differs from `expected` (from
 * {@link expectedRequest}); empty when it is that request. A body in any other form than JSON.stringify
 * writes (spaces, escapes, a byte order mark, a repeated key that some parser would read first and another last) is
 * another request: `["(body)"]`.
 */
export function requestDifferences(expected: string, requestBody: Uint8Array): string[] {
  try {
    const text = decoder.decode(requestBody);
    const signed: unknown = JSON.parse(text);
    if (!isObject(signed) || JSON.stringify(signed) !== text) return ["(body)"];
    if (sortedJson(signed) === expected) return [];
    const asked = JSON.parse(expected) as Record<string, unknown>;
    const fields = new Set([...Object.keys(asked), ...Object.keys(signed)]);
    // Own fields only: asked.__proto__ is Object.prototype, which writes as the {} a signed body may hold.
    const field = (o: Record<string, unknown>, f: string) =>
      sortedJson(Object.hasOwn(o, f) ? o[f] : undefined);
    return [...fields].filter((f) => field(asked, f) !== field(signed, f)).sort();
  } catch {
    // Not UTF-8, not JSON, or nested too deep to compare: not the request the task maps to.
    return ["(body)"];
  }
}

/** The `model` the request body names, when it is a JSON object naming one as text. */
export function requestModel(requestBody: Uint8Array): string | undefined {
  try {
    const request: unknown = JSON.parse(decoder.decode(requestBody));
    return isObject(request) && typeof request.model === "string" ? request.model : undefined;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** JSON with every object's keys sorted (so that key order does not matter); undefined for undefined. */
function sortedJson(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObject(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}

/**
 * The requests of the most recent tasks by job id ({@link expectedRequest}), at most `count` of them and
 * `chars` characters in all: the oldest are forgotten first.
 */
export class RecentRequests {
  readonly #requests = new Map<string, string>();
  #chars = 0;

  constructor(readonly limits: { count: number; chars: number }) {}

  get(jobId: string): string | undefined {
    return this.#requests.get(jobId);
  }

  set(jobId: string, request: string): void {
    this.#delete(jobId);
    if (request.length > this.limits.chars) return;
    this.#requests.set(jobId, request);
    this.#chars += request.length;
    for (const oldest of this.#requests.keys()) {
      if (this.#requests.size <= this.limits.count && this.#chars <= this.limits.chars) break;
      this.#delete(oldest);
    }
  }

  #delete(jobId: string): void {
    const request = this.#requests.get(jobId);
    if (request === undefined) return;
    this.#requests.delete(jobId);
    this.#chars -= request.length;
  }
}
