/**
 * The chunks of a fetch response's body, ended by `signal` (the one the fetch was made with): when it
 * aborts, the body is cancelled (which closes the connection) and the iteration throws the signal's reason,
 * also while a read is pending. Stopping early (`break`, a throw) cancels the body too.
 *
 * fetch alone does not guarantee this on Node 20: its fetch (undici 6) follows the request's signal through
 * a Request object it holds only weakly once the response headers are in, so after a garbage collection an
 * abort no longer reaches a body that keeps arriving or has stalled, and reading it never ends.
 *
 * @example
 * const res = await fetch(url, { signal });
 * for await (const chunk of responseBody(res, signal)) sink.write(chunk);
 */
export async function* responseBody(
  res: Response,
  signal: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const cancel = () => {
    reader.cancel(signal.reason).catch(() => {});
  };
  signal.addEventListener("abort", cancel, { once: true });
  try {
    for (;;) {
      signal.throwIfAborted();
      const { done, value } = await reader.read();
      signal.throwIfAborted();
      if (done) return;
      yield value;
    }
  } finally {
    signal.removeEventListener("abort", cancel);
    reader.cancel().catch(() => {});
  }
}
