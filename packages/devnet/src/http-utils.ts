import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DevnetError } from "./errors.js";

/** CORS headers of the provider broker ([Go] handler.go corsMiddleware). */
export const CORS_HEADERS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Credentials": "true",
  "Access-Control-Allow-Headers":
    "Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token, Authorization, accept, origin, Cache-Control, X-Requested-With",
  "Access-Control-Allow-Methods": "POST, OPTIONS, GET, PUT, DELETE, PATCH",
  "Access-Control-Expose-Headers": "ZG-Res-Key, Retry-After",
  "Access-Control-Max-Age": "86400",
};

export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}

/** Reads the raw request body (the exact bytes that get hashed into the signed text). */
export async function readBody(req: IncomingMessage, limit = 10 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new BodyTooLargeError(`request body exceeds ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Buffer {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...CORS_HEADERS,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": String(bytes.length),
    ...headers,
  });
  res.end(bytes);
  return bytes;
}

/** `{"error": "<message>"}` as the Go broker's `errors.Response` writes it. */
export function sendBrokerError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

/** An OpenAI-style error body: `{"error": {message, type, param, code}}`. */
export function sendOpenAiError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): void {
  sendJson(res, status, { error: { message, type, param, code } });
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", done);
      clearTimeout(t);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Listens on 127.0.0.1:`port`; rejects on a listen error (e.g. the port is taken). */
export function listenLocal(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Stops listening and drops the open connections, keep-alive ones included. */
export function stopListening(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** {@link listenLocal} for a simulator's first start: a `DevnetError` naming `what`; returns the port. */
export async function startListening(server: Server, port: number, what: string): Promise<number> {
  try {
    await listenLocal(server, port);
  } catch (cause) {
    throw new DevnetError(`Cannot start the ${what}`, {
      code: "SIMULATOR_START_FAILED",
      details: `listen on 127.0.0.1:${port}`,
      cause,
    });
  }
  return (server.address() as AddressInfo).port;
}
