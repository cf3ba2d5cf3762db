import type { DescMessage, JsonValue } from "@bufbuild/protobuf";
import { invalidArgument, ZeroGError } from "@chaoschain/zerog-core";
import { ConnectError } from "@connectrpc/connect";
import { type Compression, createAsyncIterable, encodeEnvelope } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { checkBinary } from "../wire/strict-binary.js";
import { decodeJsonRequest } from "../wire/strict-json.js";
import type { NodeRequest, RpcProtocol } from "./rpc-errors.js";

/** What to do with a call after its body was read and checked. */
export type CheckedBody =
  /** Hand connect this body instead of the request stream; drop these request headers. */
  | { kind: "body"; body: AsyncIterable<Uint8Array> | JsonValue; dropHeaders: string[] }
  /** Connect answers from the headers alone (unsupported media type, method): the body stays unread. */
  | { kind: "unread" }
  /** Answer this error; `bodyRead` tells whether the whole body was read. */
  | { kind: "error"; error: ZeroGError | ConnectError; bodyRead: boolean }
  /** The client went away. */
  | { kind: "gone" };

export interface ReadBodyOptions {
  readMaxBytes: number;
  /** The whole body must have arrived within this, ms. */
  timeoutMs: number;
}

const compressions: Record<string, Compression | null> = {
  gzip: compressionGzip,
  br: compressionBrotli,
  identity: null,
};

const encodingHeader: Record<RpcProtocol, string> = {
  grpc: "grpc-encoding",
  "grpc-web": "grpc-encoding",
  "connect-stream": "connect-content-encoding",
  "connect-unary": "content-encoding",
};

const encoder = new TextEncoder();

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) ? 1 : 0)} MiB`;
}

/**
 * Reads a call's body (bounded in size and time), undoes its framing and compression, and checks the
 * message strictly against `input` (JSON or binary, by content type). A valid message is handed on
 * uncompressed, JSON with enum aliases replaced by their names; anything else is the error to answer.
 * Framing or compression this cannot undo is handed to connect as received, which answers it.
 */
export async function readCheckedBody(
  req: NodeRequest,
  protocol: RpcProtocol,
  input: DescMessage,
  options: ReadBodyOptions,
): Promise<CheckedBody> {
  const contentType = String(req.headers["content-type"] ?? "");
  const isJson = /^application\/(?:[a-z-]+\+)?json/i.test(contentType);
  const isProto = /^application\/(?:proto|grpc(?:-web)?(?:\+proto)?|connect\+proto)(?:;|$)/i.test(
    contentType,
  );
  if (req.method !== "POST" || !(isJson || isProto) || /-text/i.test(contentType)) return { kind: "unread" };
  const limit = options.readMaxBytes + (protocol === "connect-unary" ? 0 : 5);
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  if (declared > limit) return tooLarge(declared, options.readMaxBytes, false);

  const read = await readAll(req, limit, options.timeoutMs);
  if (read === "gone") return { kind: "gone" };
  if (read === "timeout") {
    const seconds = options.timeoutMs / 1000;
    const error = new ZeroGError("request_timeout", `the request body did not arrive within ${seconds} s`);
    return { kind: "error", error, bodyRead: false };
  }
  if (read === "too-large") return tooLarge(undefined, options.readMaxBytes, false);

  const encoding = String(req.headers[encodingHeader[protocol]] ?? "identity").toLowerCase();
  const compression = compressions[encoding];
  const asReceived: CheckedBody = { kind: "body", body: createAsyncIterable([read]), dropHeaders: [] };
  let payload: Uint8Array = read;
  if (protocol !== "connect-unary") {
    // One enveloped message: unary and server-streaming calls send exactly one.
    const flags = read[0];
    const length = read.length >= 5 ? read.readUInt32BE(1) : -1;
    if (length !== read.length - 5 || (flags !== 0 && flags !== 1)) return asReceived;
    payload = read.subarray(5);
    if (flags === 0) return checked(payload);
  }
  if (compression === undefined) return asReceived;
  if (compression !== null) {
    try {
      payload = await compression.decompress(payload, options.readMaxBytes);
    } catch (err) {
      return { kind: "error", error: ConnectError.from(err), bodyRead: true };
    }
  }
  return checked(payload);

  function checked(message: Uint8Array): CheckedBody {
    const dropHeaders = protocol === "connect-unary" ? ["content-encoding", "content-length"] : [];
    if (isJson) {
      const decoded = decodeJsonRequest(input, message);
      if ("error" in decoded) return { kind: "error", error: decoded.error, bodyRead: true };
      if (protocol === "connect-unary") return { kind: "body", body: decoded.value, dropHeaders };
      const bytes = encoder.encode(JSON.stringify(decoded.value));
      return { kind: "body", body: createAsyncIterable([encodeEnvelope(0, bytes)]), dropHeaders };
    }
    const violations = checkBinary(input, message);
    if (violations.length) return { kind: "error", error: invalidArgument(violations), bodyRead: true };
    const body = protocol === "connect-unary" ? message : encodeEnvelope(0, message);
    return { kind: "body", body: createAsyncIterable([body]), dropHeaders };
  }
}

function tooLarge(size: number | undefined, max: number, bodyRead: boolean): CheckedBody {
  const what = size === undefined ? "the request body is" : `the request body (${size} bytes) is`;
  return {
    kind: "error",
    error: new ZeroGError("request_too_large", `${what} over the bridge's limit of ${mib(max)}`),
    bodyRead,
  };
}

/** The whole body, or why not: over `limit` bytes, not complete in `timeoutMs`, or the client went away. */
function readAll(
  req: NodeRequest,
  limit: number,
  timeoutMs: number,
): Promise<Buffer | "too-large" | "timeout" | "gone"> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (outcome: Buffer | "too-large" | "timeout" | "gone") => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onGone);
      if (typeof outcome === "string") req.pause();
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return done("too-large");
      chunks.push(chunk);
    };
    const onEnd = () => done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onGone = () => done("gone");
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onGone);
    req.once("close", onGone);
  });
}
