import type http from "node:http";
import http2 from "node:http2";
import { RetryInfoSchema } from "@chaoschain/zerog-core";
import type { ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  createEndStreamSerialization,
  endStreamFlag,
  errorToJsonBytes,
} from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { endDiscardingBody } from "./discard-body.js";

export type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** The RPC protocol a request speaks, from its Content-Type (as connect-es negotiates it). */
export type RpcProtocol = "grpc" | "grpc-web" | "connect-stream" | "connect-unary";

export function rpcProtocol(contentType: string): RpcProtocol {
  if (/^application\/grpc-web/i.test(contentType)) return "grpc-web";
  if (/^application\/grpc/i.test(contentType)) return "grpc";
  if (/^application\/connect\+/i.test(contentType)) return "connect-stream";
  return "connect-unary";
}

const endStream = createEndStreamSerialization(undefined);

export interface WriteRpcErrorOptions {
  /** Close the connection after the answer (HTTP/1.1 `Connection: close`, HTTP/2 GOAWAY). */
  close?: boolean;
  /** The whole request body was read. */
  bodyRead?: boolean;
  /** The client waits for `100 Continue` (never sent) before sending its body. */
  awaitsContinue?: boolean;
}

/**
 * Answers a call with `error` in the call's own protocol, without reading its body: a gRPC
 * trailers-only response, a gRPC-web trailer frame, a Connect end-stream message, or a Connect unary
 * error (HTTP status and JSON). With `close`, the connection closes after it (HTTP/1.1
 * `Connection: close`, HTTP/2 GOAWAY). A request body not read is never read on HTTP/2 (the stream
 * ends); on HTTP/1.1 the connection closes, after a little of it is discarded (`endDiscardingBody`).
 */
export function writeRpcError(
  req: NodeRequest,
  res: NodeResponse,
  error: ConnectError,
  options: WriteRpcErrorOptions = {},
): void {
  const contentType = String(req.headers["content-type"] ?? "");
  const protocol = rpcProtocol(contentType);
  const isH2 = "stream" in req;
  const headers: Record<string, string> = {};
  // An unread body would be parsed as the next request: close the connection after the answer.
  if (!isH2 && (options.close || !options.bodyRead)) headers.connection = "close";
  let status = 200;
  let body: Uint8Array | undefined;
  switch (protocol) {
    case "grpc": {
      const trailer = setTrailerStatus(new Headers(), error);
      Object.assign(headers, Object.fromEntries(trailer), { "content-type": contentType });
      break;
    }
    case "grpc-web": {
      const trailer = setTrailerStatus(new Headers(), error);
      headers["content-type"] = contentType;
      body = encodeEnvelope(trailerFlag, trailerSerialize(trailer));
      break;
    }
    case "connect-stream":
      headers["content-type"] = contentType;
      body = encodeEnvelope(endStreamFlag, endStream.serialize({ metadata: new Headers(), error }));
      break;
    case "connect-unary": {
      status = codeToHttpStatus(error.code);
      // HTTP clients (curl, browsers) read the retry delay here too.
      const delay = error.findDetails(RetryInfoSchema)[0]?.retryDelay;
      if (delay)
        headers["retry-after"] = String(Math.max(1, Math.ceil(Number(delay.seconds) + delay.nanos / 1e9)));
      headers["content-type"] = "application/json";
      body = errorToJsonBytes(error, undefined);
      break;
    }
  }
  // On HTTP/1.1 the answer is complete as sent even while the connection stays open (endDiscardingBody).
  if (body || !isH2) headers["content-length"] = String(body?.byteLength ?? 0);
  if (isH2) {
    const stream = (req as http2.Http2ServerRequest).stream;
    if (stream.destroyed || stream.headersSent) return;
    // The answer ends the stream; then tell the client to stop sending a body nobody reads.
    stream.respond({ ":status": status, ...headers }, { endStream: body === undefined });
    const done = () => {
      if (!options.bodyRead && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
      if (options.close) stream.session?.close();
    };
    if (body) stream.end(body, done);
    else done();
    return;
  }
  const h1 = res as http.ServerResponse;
  if (h1.headersSent) return void h1.destroy();
  h1.writeHead(status, headers);
  if (options.bodyRead) return void h1.end(body);
  if (body) h1.write(body);
  endDiscardingBody(req as http.IncomingMessage, h1, !options.awaitsContinue);
}
