import net from "node:net";
import { ConnectError, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { expect } from "vitest";

/** The ConnectError a call failed with (fails the test if it did not fail that way). */
export async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

/** A gRPC transport on its own HTTP/2 session (kept in `sessions`, to abort), sending `apiKey` if given. */
export function grpcTransport(
  baseUrl: string,
  sessions: Http2SessionManager[],
  apiKey?: string,
  tls?: { ca: string | Buffer },
): Transport {
  const sessionManager = new Http2SessionManager(baseUrl, {}, tls ? { ca: tls.ca } : undefined);
  sessions.push(sessionManager);
  return createGrpcTransport({
    baseUrl,
    sessionManager,
    interceptors: apiKey
      ? [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${apiKey}`);
            return next(req);
          },
        ]
      : [],
  });
}

/** A raw TCP connection to 127.0.0.1:`port`, for writing HTTP by hand. */
export interface RawConnection {
  socket: net.Socket;
  /** Everything received so far, as text. */
  received(): string;
  /** Resolves, with the ms since it opened, when the connection closes. */
  closed: Promise<number>;
}

export async function rawConnection(port: number): Promise<RawConnection> {
  const socket = net.connect(port, "127.0.0.1");
  let data = "";
  socket.setEncoding("utf8").on("data", (s: string) => {
    data += s;
  });
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  const opened = performance.now();
  const closed = new Promise<number>((resolve) =>
    socket.once("close", () => resolve(performance.now() - opened)),
  );
  return { socket, received: () => data, closed };
}

/** An HTTP/1.1 POST of a JSON body, as written on a raw connection (keep-alive). */
export function rawPost(port: number, path: string, body: unknown, headers = ""): string {
  const text = JSON.stringify(body);
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n${headers}content-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
}
