import type { Transport } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";

/**
 * Whether a call failed because the server refused its HTTP/2 stream (RST_STREAM REFUSED_STREAM, or
 * a stream above the last one a GOAWAY let through): the server did not process it, so it is safe to
 * send again (RFC 9113 §8.7), whatever the method.
 */
export function isRefusedStream(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (/REFUSED_STREAM/.test(e.message)) return true;
    if (e.cause === e) break;
  }
  return false;
}

/**
 * A transport that sends a call once more, on a fresh HTTP/2 session (`renew()` is called first), when
 * the server refused its stream: the race of a call with a server's GOAWAY at its idle timeout or stop.
 * Only once: a server refusing everything fails the call. Client- and bidi-streaming calls are not
 * retried (their request messages cannot be read twice); this client has none.
 */
export function retryRefusedStreams(transport: Transport, renew: () => void): Transport {
  const again = <T>(first: () => Promise<T>, second: () => Promise<T>): Promise<T> =>
    first().catch((err: unknown) => {
      if (!isRefusedStream(err)) throw err;
      renew();
      return second();
    });
  const remaining = (timeoutMs: number | undefined, started: number) =>
    timeoutMs === undefined ? undefined : Math.max(1, Math.floor(timeoutMs - (performance.now() - started)));
  return {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      const started = performance.now();
      return again(
        () => transport.unary(method, signal, timeoutMs, header, input, contextValues),
        () => transport.unary(method, signal, remaining(timeoutMs, started), header, input, contextValues),
      );
    },
    async stream(
      ...[method, signal, timeoutMs, header, input, contextValues]: Parameters<Transport["stream"]>
    ) {
      if (method.methodKind !== "server_streaming") {
        return transport.stream(method, signal, timeoutMs, header, input, contextValues);
      }
      // One request message: kept, to send it again.
      const messages: unknown[] = [];
      for await (const m of input) messages.push(m);
      const started = performance.now();
      const send = (ms: number | undefined) =>
        transport.stream(method, signal, ms, header, createAsyncIterable(messages) as never, contextValues);
      return again(
        () => send(timeoutMs),
        () => send(remaining(timeoutMs, started)),
      );
    },
  } as Transport;
}
