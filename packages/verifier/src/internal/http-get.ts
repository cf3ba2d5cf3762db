import { CollateralFetchError } from "../errors/collateral.js";

/** How a GET is made: the fetch to use (bound to its global) and the per-request timeout. */
export interface HttpGetOptions {
  fetch: typeof globalThis.fetch;
  timeoutMs: number;
  /** Largest body read, bytes (a longer one is cancelled, not buffered). */
  maxBytes: number;
}

/** A 2xx answer, read in full. */
export interface Answer {
  url: string;
  headers: Headers;
  body: Uint8Array;
}

/** The body, read up to `limit` bytes (a longer one is cancelled, not buffered). */
async function readLimited(res: Response, url: string, limit: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  const tooLarge = () =>
    new CollateralFetchError("too_large", url, `the answer is larger than ${limit} bytes`);
  if (declared > limit) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) {
    const all = new Uint8Array(await res.arrayBuffer());
    if (all.length > limit) throw tooLarge();
    return all;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function request(url: string, o: HttpGetOptions, signal: AbortSignal): Promise<Answer> {
  let res: Response;
  try {
    res = await o.fetch(url, { signal, redirect: "follow" });
  } catch (e) {
    const cause = (e as { cause?: { message?: string; code?: string } })?.cause;
    const why = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
    throw new CollateralFetchError("network", url, `request failed: ${why}`, { cause: e });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    const requestId = res.headers.get("request-id") ?? undefined;
    throw new CollateralFetchError(
      "status",
      url,
      `answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${requestId ? ` (Request-ID ${requestId})` : ""}`,
      { status: res.status, requestId },
    );
  }
  return { url, headers: res.headers, body: await readLimited(res, url, o.maxBytes) };
}

/**
 * One GET, answered 2xx and read in full within the timeout, or failed with a {@link CollateralFetchError}
 * naming the URL (status and Request-ID, timeout, network failure, oversize body). Aborting `group`
 * aborts it.
 */
export async function httpGet(url: string, o: HttpGetOptions, group: AbortSignal): Promise<Answer> {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  group.addEventListener("abort", onAbort);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctrl.abort();
      reject(new CollateralFetchError("timeout", url, `no complete answer within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
  });
  const answer = request(url, o, ctrl.signal);
  answer.catch(() => {}); // when the timeout wins, the aborted request's rejection is expected
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
    group.removeEventListener("abort", onAbort);
  }
}
