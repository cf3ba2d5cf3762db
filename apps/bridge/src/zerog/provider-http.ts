import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { FailureReason, printableText } from "@chaoschain/zerog-core";
import { BackendError } from "../backend.js";
import { isPublicAddress, NonPublicAddressError, publicOnlyLookup } from "./public-address.js";
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
  /** The most bytes of the answer's body read; more fails the call. Default: the call's {@link providerBodyLimits}. */
  maxBytes?: number | undefined;
  /**
   * Only public addresses (0G testnet, mainnet): a service URL naming, or resolving to, a loopback, private,
   * link-local (cloud metadata), shared or multicast address is refused before anything is sent. The devnet
   * runs its providers on 127.0.0.1, and a custom network may run them on the operator's own network.
   */
  publicHostsOnly?: boolean | undefined;
}

/**
 * The most bytes read of a provider's answers. A chat completion's stream is about 200 bytes per token, so
 * 64 MiB holds a 128k-token answer streamed; a dstack quote with its event log and NVIDIA evidence is
 * well under 1 MiB; a signature record is a few hundred bytes.
 */
export const providerBodyLimits = {
  chat: 64 << 20,
  attestation: 8 << 20,
  signature: 256 << 10,
} as const;

const decoder = new TextDecoder();

// Keep-alive connections to each provider, reused across jobs. node:http rather than fetch: fetch's
// web streams and signals cost about 0.4 ms of CPU per request here, twice per job.
// Separate pools for public-only calls: a connection opened without the address check is never reused by one
// that needs it.
const agentsFor = (lookup?: LookupFunction) => ({
  "http:": new http.Agent({ keepAlive: true, scheduling: "lifo", ...(lookup ? { lookup } : {}) }),
  "https:": new https.Agent({ keepAlive: true, scheduling: "lifo", ...(lookup ? { lookup } : {}) }),
});

const agents = { any: agentsFor(), public: agentsFor(publicOnlyLookup) };

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

/** A service URL the bridge does not call: nothing was sent, another provider may serve the job. */
function refusedUrl(url: string, why: string): BackendError {
  return new BackendError(
    FailureReason.PROVIDER_UNAVAILABLE,
    `provider URL ${JSON.stringify(url.slice(0, 200))} ${why}; the bridge does not call it`,
    { retryable: true },
  );
}

/** An answer longer than the call's limit: the exchange was cut there. */
class TooLarge extends Error {
  constructor(
    readonly url: string,
    readonly maxBytes: number,
  ) {
    super(`provider ${url} answered more than ${maxBytes} bytes`);
  }
}

/** The provider refused the request's session token (HTTP 401): a fresh token may be accepted. */
export class SessionRejectedError extends BackendError {
  override name = "SessionRejectedError";
}

/** Maps a provider's HTTP error to a failure reason; 5xx, 429 and 401 (new session) are retryable. */
export function providerHttpError(url: string, status: number, body: Uint8Array): BackendError {
  const text = decoder.decode(body.subarray(0, 2048));
  let message: unknown = text;
  try {
    const json = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    message = (typeof json.error === "string" ? json.error : json.error?.message) ?? json.message ?? text;
  } catch {}
  // Whitespace runs as one space, control and bidi characters escaped: nothing a terminal would act on.
  const detail = printableText((typeof message === "string" ? message : text).replace(/\s+/g, " ").trim(), {
    maxLength: 300,
  });
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
  options: HttpCallOptions & { maxBytes: number },
  onChunk?: (chunk: Uint8Array) => void,
): Promise<HttpAnswer> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(refusedUrl(url, "is not an http(s) URL"));
  }
  if (target.protocol !== "http:" && target.protocol !== "https:") {
    return Promise.reject(refusedUrl(url, "is not an http(s) URL"));
  }
  const publicOnly = options.publicHostsOnly === true;
  if (publicOnly && isIP(target.hostname.replace(/^\[|\]$/g, "")) && !isPublicAddress(target.hostname)) {
    return Promise.reject(refusedUrl(url, `names ${target.hostname}, not a public address`));
  }
  return new Promise<HttpAnswer>((resolve, reject) => {
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
      else if (error instanceof TooLarge) reject(error);
      else if (error instanceof NonPublicAddressError)
        reject(refusedUrl(url, `resolves to ${error.address}, not a public address`));
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
        agent: agents[publicOnly ? "public" : "any"][target.protocol as "http:" | "https:"],
      },
      (res) => {
        reached = "answering";
        const status = res.statusCode ?? 0;
        const ok = status >= 200 && status < 300;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          if (settled) return;
          size += chunk.length;
          if (size > options.maxBytes) return finish(new TooLarge(url, options.maxBytes));
          chunks.push(chunk);
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
    { ...options, maxBytes: options.maxBytes ?? providerBodyLimits.chat },
    options.onChunk,
  ).catch((err: unknown) => {
    if (err instanceof TooLarge) {
      throw new BackendError(
        FailureReason.PROVIDER_ERROR,
        `${err.message}; its answer is refused, and the request is not sent again: the provider may have charged for it. Submit the task again to run it anew`,
      );
    }
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
    const res = await getProofPart(url, options, {
      limit: providerBodyLimits.signature,
      what: `the signature of chat ${JSON.stringify(chatId)}; the output cannot be verified`,
    });
    if (res.ok) {
      const json = parseJson(res.body) as Partial<ProviderSignature> | undefined;
      if (
        typeof json !== "object" ||
        json === null ||
        typeof json.text !== "string" ||
        typeof json.signature !== "string"
      ) {
        throw new BackendError(
          FailureReason.PROOF_INVALID,
          `provider ${url} returned a malformed signature record`,
        );
      }
      // Only the fields read, of their type: whatever else the provider put in is not carried into the proof.
      const { text, signature, signing_address, signing_algo } = json;
      return {
        text,
        signature,
        ...(typeof signing_address === "string" ? { signing_address } : {}),
        ...(typeof signing_algo === "string" ? { signing_algo } : {}),
      };
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

/**
 * A GET of part of a proof (a signature record, an attestation): an answer over `limit` bytes (or the
 * call's own `maxBytes`) is `proof_invalid`, naming `what`.
 */
function getProofPart(
  url: string,
  options: HttpCallOptions,
  part: { limit: number; what: string; retryable?: boolean },
) {
  return exchange(url, {}, { ...options, maxBytes: options.maxBytes ?? part.limit }).catch((err: unknown) => {
    if (!(err instanceof TooLarge)) throw err;
    throw new BackendError(FailureReason.PROOF_INVALID, `${err.message} for ${part.what}`, {
      retryable: part.retryable ?? false,
    });
  });
}

/** `GET <url>/v1/quote`: the provider's TEE attestation (dstack GetQuoteResponse JSON). */
export async function fetchAttestation(
  serviceUrl: string,
  options: HttpCallOptions,
): Promise<ProviderAttestation> {
  const url = `${serviceUrl}/v1/quote`;
  const res = await getProofPart(url, options, {
    limit: providerBodyLimits.attestation,
    what: "its attestation",
    retryable: true,
  });
  const raw = res.body;
  if (!res.ok) {
    throw new BackendError(
      FailureReason.PROOF_INVALID,
      `provider ${url} served no attestation (HTTP ${res.status})`,
    );
  }
  const json = parseJson(raw);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new BackendError(
      FailureReason.PROOF_INVALID,
      `provider ${url} served an attestation that is not a JSON object`,
      { retryable: true },
    );
  }
  if (nestedDeeperThan(json, maxAttestationDepth)) {
    // Its parts are serialised again for the proof: JSON.stringify of a deep one overflows the stack.
    throw new BackendError(
      FailureReason.PROOF_INVALID,
      `provider ${url} served an attestation nested deeper than ${maxAttestationDepth} levels`,
      { retryable: true },
    );
  }
  return { raw, json: json as Record<string, unknown> };
}

/** A dstack quote answer nests a few levels (tcb_info, event_log, nvidia_payload.evidence_list). */
const maxAttestationDepth = 64;

/** Whether arrays and objects in `value` nest deeper than `max` levels (walked without recursion). */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (typeof v !== "object" || v === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The JSON in `body`, or undefined when it is not JSON. */
function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(body)) as unknown;
  } catch {
    return undefined;
  }
}
