import http from "node:http";
import https from "node:https";
import { FailureReason } from "@chaoschain/zerog-core";
import { BackendError } from "../backend.js";
import { isEventStream, parseSse } from "./sse.js";

/** What a 0G provider returned for one chat completion, byte for byte. */
export interface ChatExchange {
  requestBody: Uint8Array;
  responseBody: Uint8Array;
  /** Response header `ZG-Res-Key`, else the completion id. */
  chatId: string;
  status: number;
}

/** `GET /v1/proxy/signature/<chatId>` of a 0G provider. */
export interface ProviderSignature {
  text: string;
  signature: string;
  signing_address?: string;
  signing_algo?: string;
}

/** Bytes and parsed JSON of `GET /v1/quote`. */
export interface ProviderAttestation {
  raw: Uint8Array;
  json: Record<string, unknown>;
}

export interface HttpCallOptions {
  signal: AbortSignal;
  timeoutMs: number;
}

const decoder = new TextDecoder();

// Keep-alive connections to each provider, reused across jobs. node:http rather than fetch: fetch's
// web streams and signals cost about 0.4 ms of CPU per request here, twice per job.
const agents = {
  "http:": new http.Agent({ keepAlive: true, scheduling: "lifo" }),
  "https:": new https.Agent({ keepAlive: true, scheduling: "lifo" }),
};

/** How far an exchange got before it failed: whether the provider can have acted on the request. */
type Reached = "not sent" | "sent" | "answering";

/**
 * Network failures and timeouts. Before the request was sent, worth retrying and failing over. After,
 * the provider may have received it, and for a chat completion, charged for it: `postChatCompletion`
 * then refuses to let it be sent again (see {@link unknownOutcome}).
 */
class Unavailable extends BackendError {
  override name = "Unavailable";
  constructor(
    readonly url: string,
    readonly reached: Reached,
    readonly timeoutMs: number | undefined,
    cause: unknown,
  ) {
    super(
      FailureReason.PROVIDER_UNAVAILABLE,
      reached === "answering"
        ? `provider ${url} closed the connection mid-response`
        : timeoutMs !== undefined
          ? `provider ${url} did not answer in time (${timeoutMs} ms)`
          : `provider ${url} is unreachable`,
      { cause, retryable: true },
    );
  }
}

/**
 * A chat completion that failed after the provider may have received it: never retried or failed
 * over, since sending it again could have it charged twice.
 */
function unknownOutcome(err: Unavailable): BackendError {
  const what =
    err.reached === "answering"
      ? `closed the connection mid-response`
      : `did not answer within ${err.timeoutMs} ms after receiving the request`;
  return new BackendError(
    FailureReason.PROVIDER_UNAVAILABLE,
    `provider ${err.url} ${what}; the request is not sent again: the provider may have charged for it. Submit the task again to run it anew`,
    { cause: err },
  );
}

/** The provider refused the request's session token (HTTP 401): a fresh token may be accepted. */
export class SessionRejectedError extends BackendError {
  override name = "SessionRejectedError";
}

/** Maps a provider's HTTP error to a failure reason; 5xx, 429 and 401 (new session) are retryable. */
export function providerHttpError(url: string, status: number, body: Uint8Array): BackendError {
  const text = decoder.decode(body.subarray(0, 2048));
  let detail = text;
  try {
    const json = JSON.parse(text) as { error?: { message?: string } | string; message?: string };
    detail = (typeof json.error === "string" ? json.error : json.error?.message) ?? json.message ?? text;
  } catch {}
  detail = detail.replace(/\s+/g, " ").trim().slice(0, 300);
  if (status === 402 || /insufficient (balance|fund)/i.test(detail)) {
    return new BackendError(
      FailureReason.INSUFFICIENT_BALANCE,
      `provider ${url} refused the request for lack of funds (${detail}); deposit more 0G into the ledger`,
    );
  }
  if (status === 401) {
    return new SessionRejectedError(
      FailureReason.PROVIDER_ERROR,
      `provider ${url} rejected the session token: ${detail}`,
      { retryable: true },
    );
  }
  return new BackendError(FailureReason.PROVIDER_ERROR, `provider ${url} answered ${status}: ${detail}`, {
    retryable: status >= 500 || status === 429,
  });
}

/** A provider's HTTP answer: status, one header, the whole body. */
interface HttpAnswer {
  status: number;
  ok: boolean;
  header(name: string): string | undefined;
  body: Uint8Array;
}

/**
 * One HTTP exchange with a provider: the whole body read (`onChunk` sees it as it streams in, for a
 * 2xx answer), network failures and timeouts (over the whole exchange) mapped to `unavailable`.
 */
function exchange(
  url: string,
  init: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: Uint8Array },
  options: HttpCallOptions,
  onChunk?: (chunk: Uint8Array) => void,
): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const target = new URL(url);
    const client = target.protocol === "https:" ? https : http;
    let settled = false;
    let reached: Reached = "not sent";
    const finish = (error: unknown, answer?: HttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      if (answer) resolve(answer);
      else if (options.signal.aborted) reject(options.signal.reason);
      else {
        const timedOut = error instanceof DOMException && error.name === "TimeoutError";
        reject(new Unavailable(url, reached, timedOut ? options.timeoutMs : undefined, error));
      }
      if (error) req.destroy();
    };
    const onAbort = () => finish(options.signal.reason);
    const req = client.request(
      target,
      {
        method: init.method ?? "GET",
        headers: init.body ? { ...init.headers, "content-length": init.body.length } : init.headers,
        agent: agents[target.protocol as keyof typeof agents],
      },
      (res) => {
        reached = "answering";
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (ok) onChunk?.(chunk);
        });
        res.on("end", () => {
          const body = Buffer.concat(chunks, size);
          const header = (name: string) => {
            const v = res.headers[name.toLowerCase()];
            return Array.isArray(v) ? v[0] : v;
          };
          finish(undefined, { status, ok, header, body });
        });
        res.on("error", (err) => finish(err));
        res.on("close", () => {
          if (!res.complete) finish(new Error("the connection closed mid-response"));
        });
      },
    );
    const timer = setTimeout(
      () => finish(new DOMException(`no answer in ${options.timeoutMs} ms`, "TimeoutError")),
      options.timeoutMs,
    );
    req.on("error", (err) => finish(err));
    // Handed to the connection whole: from here on the provider may have it.
    req.on("finish", () => {
      if (reached === "not sent") reached = "sent";
    });
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener("abort", onAbort, { once: true });
    req.end(init.body);
  });
}

/**
 * POSTs a chat completion to `<endpoint>/chat/completions` (endpoint = service url + `/v1/proxy`)
 * and keeps the exact bytes sent and received: the enclave signs their hashes.
 * `onChunk` sees the body as it streams in.
 */
export async function postChatCompletion(
  endpoint: string,
  requestBody: Uint8Array,
  headers: Record<string, string>,
  options: HttpCallOptions & { onChunk?: (chunk: Uint8Array) => void },
): Promise<ChatExchange> {
  const url = `${endpoint}/chat/completions`;
  const res = await exchange(
    url,
    { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: requestBody },
    options,
    options.onChunk,
  ).catch((err: unknown) => {
    throw err instanceof Unavailable && err.reached !== "not sent" ? unknownOutcome(err) : err;
  });
  const responseBody = res.body;
  if (!res.ok) throw providerHttpError(url, res.status, responseBody);
  let chatId = res.header("zg-res-key") ?? "";
  if (chatId === "") chatId = completionId(responseBody);
  if (chatId === "") {
    throw new BackendError(FailureReason.PROOF_INVALID, `provider ${url} returned no chat id (ZG-Res-Key)`);
  }
  return { requestBody, responseBody, chatId, status: res.status };
}

/** The `id` of a JSON completion, or of the first SSE chunk. */
function completionId(body: Uint8Array): string {
  const first = isEventStream(body) ? (parseSse(body)[0]?.data ?? "") : decoder.decode(body);
  try {
    const id = (JSON.parse(first) as { id?: unknown }).id;
    return typeof id === "string" ? id : "";
  } catch {
    return "";
  }
}

/**
 * Fetches the enclave's signature for a chat id. Providers keep signatures only briefly, so this
 * runs right after the response; a 404 is retried a few times in case the provider is still storing it.
 */
export async function fetchSignature(
  serviceUrl: string,
  chatId: string,
  model: string,
  options: HttpCallOptions & { attempts?: number },
): Promise<ProviderSignature> {
  const url = `${serviceUrl}/v1/proxy/signature/${encodeURIComponent(chatId)}?model=${encodeURIComponent(model)}`;
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    const res = await exchange(url, {}, options);
    if (res.ok) {
      const json = JSON.parse(decoder.decode(res.body)) as Partial<ProviderSignature>;
      if (typeof json.text !== "string" || typeof json.signature !== "string") {
        throw new BackendError(
          FailureReason.PROOF_INVALID,
          `provider ${url} returned a malformed signature record`,
        );
      }
      return json as ProviderSignature;
    }
    if (res.status !== 404 || attempt >= attempts) {
      throw new BackendError(
        FailureReason.PROOF_INVALID,
        `provider gave no signature for chat ${chatId} (HTTP ${res.status}); the output cannot be verified`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
  }
}

/** `GET <url>/v1/quote`: the provider's TEE attestation (dstack GetQuoteResponse JSON). */
export async function fetchAttestation(
  serviceUrl: string,
  options: HttpCallOptions,
): Promise<ProviderAttestation> {
  const url = `${serviceUrl}/v1/quote`;
  const res = await exchange(url, {}, options);
  const raw = res.body;
  if (!res.ok) {
    throw new BackendError(
      FailureReason.PROOF_INVALID,
      `provider ${url} served no attestation (HTTP ${res.status})`,
    );
  }
  try {
    return { raw, json: JSON.parse(decoder.decode(raw)) as Record<string, unknown> };
  } catch (err) {
    throw new BackendError(
      FailureReason.PROOF_INVALID,
      `provider ${url} served an attestation that is not JSON`,
      {
        cause: err,
      },
    );
  }
}
