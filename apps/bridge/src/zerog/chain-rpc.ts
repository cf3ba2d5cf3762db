import { printableText } from "@chaoschain/zerog-core";
import {
  FetchRequest,
  type GetUrlResponse,
  type JsonRpcPayload,
  JsonRpcProvider,
  type JsonRpcResult,
  makeError,
  Network,
} from "ethers";
import { responseBody } from "../response-body.js";

/**
 * What the bridge accepts from the chain RPC, which it does not trust: a public RPC can be overloaded,
 * buggy or hostile. Every call has a deadline on the whole exchange (a byte a second never resets it)
 * and an answer larger than `maxResponseBytes` (after decompression) is refused unread.
 */
export interface RpcLimits {
  /** Longest time one JSON-RPC request may take, from sending to the last byte of the answer, ms. */
  timeoutMs: number;
  /** Largest answer accepted, bytes. */
  maxResponseBytes: number;
}

/** 30 s: a slow public RPC still answers; 32 MiB: far above any registry read or log query the bridge makes. */
export const defaultRpcLimits: RpcLimits = { timeoutMs: 30_000, maxResponseBytes: 32 * 1024 * 1024 };

/** Longest error text taken from an RPC's answer (JSON-RPC `error.message`, ethers' message). */
export const maxRpcErrorLength = 500;

/** The origin of a URL, for messages: `https://rpc.example:8545`, never its path or query. */
/** The chain id of an `eth_chainId` answer (a hex quantity), or undefined for anything else. */
export function chainIdOf(answer: unknown): bigint | undefined {
  return typeof answer === "string" && /^0x[0-9a-fA-F]{1,64}$/.test(answer) ? BigInt(answer) : undefined;
}

export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "the configured RPC URL";
  }
}

/**
 * Why a chain RPC request failed, in a message that names the RPC's origin only (a path may hold an API
 * key): it did not answer in time or could not be reached (`detail` says how), its answer was refused,
 * or the caller cancelled.
 */
export class ChainRpcError extends Error {
  override name = "ChainRpcError";
  constructor(
    readonly kind: "timeout" | "unreachable" | "refused" | "cancelled",
    at: string,
    readonly detail: string,
  ) {
    super(
      kind === "timeout" || kind === "unreachable"
        ? `the 0G chain RPC at ${at} is not answering (${detail})`
        : kind === "refused"
          ? `the 0G chain RPC at ${at} ${detail}`
          : "request cancelled",
    );
  }

  /** The ethers error code for it. */
  get code(): "TIMEOUT" | "SERVER_ERROR" | "CANCELLED" {
    return this.kind === "timeout" ? "TIMEOUT" : this.kind === "cancelled" ? "CANCELLED" : "SERVER_ERROR";
  }
}

/**
 * `url` without its `user:password@`, and those as a Basic authorization: fetch refuses a URL that
 * carries credentials (and would quote it, password included, in its error).
 */
function withoutCredentials(url: string): { url: string; authorization?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url };
  }
  if (parsed.username === "" && parsed.password === "") return { url };
  const decoded = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  const credentials = `${decoded(parsed.username)}:${decoded(parsed.password)}`;
  parsed.username = "";
  parsed.password = "";
  return { url: parsed.href, authorization: `Basic ${Buffer.from(credentials).toString("base64")}` };
}

/**
 * One HTTP POST of `body` to the RPC, read to the end within `limits`: the answer's status, headers and
 * body, or a ChainRpcError (deadline passed, answer too large, redirect, connection failed).
 * Redirects are refused: a hostile RPC must not send the bridge's requests to another host.
 */
export async function postBounded(
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
  limits: RpcLimits,
  cancel?: AbortSignal,
): Promise<GetUrlResponse> {
  const at = urlOrigin(url);
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const signal = cancel ? AbortSignal.any([deadline, cancel]) : deadline;
  const failure = (err: unknown): ChainRpcError => {
    if (err instanceof ChainRpcError) return err;
    if (deadline.aborted) return new ChainRpcError("timeout", at, `no answer within ${limits.timeoutMs} ms`);
    if (cancel?.aborted) return new ChainRpcError("cancelled", at, "");
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.cause?.message === "unexpected redirect")
      return new ChainRpcError("refused", at, "answered with a redirect; give the RPC's final URL");
    return new ChainRpcError("unreachable", at, printableText(e.cause?.code ?? e.name, { maxLength: 100 }));
  };
  try {
    const target = withoutCredentials(url);
    const res = await fetch(target.url, {
      method: "POST",
      headers: target.authorization ? { ...headers, authorization: target.authorization } : headers,
      body: typeof body === "string" ? body : Buffer.from(body),
      signal,
      redirect: "error",
    });
    const tooLarge = () =>
      new ChainRpcError(
        "refused",
        at,
        `answered more than ${limits.maxResponseBytes} bytes; the bridge refuses it`,
      );
    const declared = Number(res.headers.get("content-length") ?? 0);
    if (declared > limits.maxResponseBytes) {
      await res.body?.cancel().catch(() => {});
      throw tooLarge();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of responseBody(res, signal)) {
      size += chunk.byteLength;
      if (size > limits.maxResponseBytes) throw tooLarge();
      chunks.push(chunk);
    }
    const responseHeaders: Record<string, string> = {};
    // fetch has decompressed the body already: ethers must not gunzip it again.
    for (const [name, value] of res.headers) if (name !== "content-encoding") responseHeaders[name] = value;
    return {
      statusCode: res.status,
      statusMessage: res.statusText,
      headers: responseHeaders,
      body: size === 0 ? null : Buffer.concat(chunks, size),
    };
  } catch (err) {
    throw failure(err);
  }
}

/**
 * A JSON-RPC call outside ethers (start-up, health checks): its `result`, or a ChainRpcError saying why
 * there is none (the RPC's own error quoted bounded and escaped).
 */
export async function rpcCall(url: string, method: string, limits: RpcLimits): Promise<unknown> {
  const res = await postBounded(
    url,
    JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: [] }),
    { "content-type": "application/json" },
    limits,
  );
  const at = urlOrigin(url);
  let answer: unknown;
  try {
    answer = JSON.parse(Buffer.from(res.body ?? []).toString("utf8"));
  } catch {
    answer = undefined;
  }
  const { result, error } = (answer ?? {}) as { result?: unknown; error?: { message?: unknown } };
  if (res.statusCode >= 200 && res.statusCode < 300 && result !== undefined) return result;
  const said =
    typeof error?.message === "string"
      ? `: ${JSON.stringify(printableText(error.message, { maxLength: maxRpcErrorLength }))}`
      : answer === undefined
        ? " (not JSON)"
        : " (no result)";
  throw new ChainRpcError("refused", at, `answered ${method} with HTTP ${res.statusCode}${said}`);
}

/**
 * The bridge's JSON-RPC provider: requests bounded by `limits`, no retry on HTTP 429 (ethers would wait
 * the `Retry-After` the RPC names, in ms, up to 12 times), and every error's message bounded and escaped,
 * as an RPC's error text ends up in logs and job failure messages.
 */
export class BoundedJsonRpcProvider extends JsonRpcProvider {
  constructor(url: string, chainId: bigint, limits: RpcLimits) {
    const request = new FetchRequest(url);
    request.timeout = limits.timeoutMs;
    request.retryFunc = async () => false;
    request.getUrlFunc = async (req, cancelled) => {
      const cancel = new AbortController();
      cancelled?.addListener(() => cancel.abort());
      try {
        const { "content-length": _, ...headers } = req.headers; // fetch sets it
        return await postBounded(req.url, req.body ?? "", headers, limits, cancel.signal);
      } catch (err) {
        const e = err as ChainRpcError;
        throw makeError(e.message, e.code);
      }
    };
    // staticNetwork: ethers never asks eth_chainId again, so every transaction is signed for the chain
    // the bridge started on, whatever the RPC answers later. cacheTimeout -1: ethers would otherwise reuse
    // a cached pending nonce for a second transaction sent within 250 ms, and the chain would drop one.
    super(request, undefined, { staticNetwork: Network.from(chainId), cacheTimeout: -1 });
  }

  override async send(method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
    try {
      return await super.send(method, params);
    } catch (err) {
      throw boundErrorMessage(err);
    }
  }

  /** The RPC's answers, each JSON-RPC `error` cut down: its text reaches ethers' messages and revert reasons. */
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const answers = await super._send(payload);
    return answers.map((answer) =>
      answer !== null && typeof answer === "object" && "error" in answer
        ? ({ id: answer.id, error: boundedRpcError(answer.error) } as unknown as JsonRpcResult)
        : answer,
    );
  }
}

/** Longest `error.data` kept (hex characters): a revert reason or custom error, never megabytes. */
const maxErrorDataLength = 2 + 2 * 4096;

/** A JSON-RPC error object as ethers may read it: a numeric code, a bounded escaped message, bounded hex data. */
function boundedRpcError(error: unknown): { code: number; message: string; data?: string } {
  const e = (error !== null && typeof error === "object" ? error : {}) as Record<string, unknown>;
  const message = typeof e.message === "string" ? e.message : "the RPC's error had no message";
  const data = typeof e.data === "string" && /^0x[0-9a-fA-F]*$/.test(e.data) ? e.data : undefined;
  return {
    code: typeof e.code === "number" && Number.isSafeInteger(e.code) ? e.code : -32603,
    message: printableText(message, { maxLength: maxRpcErrorLength }),
    ...(data !== undefined && data.length <= maxErrorDataLength ? { data } : {}),
  };
}

/** `err` with its message cut to `maxRpcErrorLength` characters and control characters escaped. */
export function boundErrorMessage(err: unknown): Error {
  if (!(err instanceof Error)) return new Error(printableText(String(err), { maxLength: maxRpcErrorLength }));
  err.message = printableText(err.message, { maxLength: maxRpcErrorLength });
  return err;
}
