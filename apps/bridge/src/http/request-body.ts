import type { DescMessage, JsonValue } from "@bufbuild/protobuf";
import { invalidArgument, ZeroGError } from "@chaoschain/zerog-core";
import { ConnectError } from "@connectrpc/connect";
import { type Compression, createAsyncIterable, encodeEnvelope } from "@connectrpc/connect/protocol";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { checkBinary } from "../wire/strict-binary.js";
import { decodeJsonRequest } from "../wire/strict-json.js";
import type { NodeRequest, RpcProtocol } from "./rpc-errors.js";
import type { UnaryInput } from "./unary-call.js";

/** What to do with a call after its body was read and checked. */
export type CheckedBody =
  /** Hand connect this body instead of the request stream; drop these request headers. */
  | {
      kind: "body";
      /** The body to hand connect. */
      body: () => AsyncIterable<Uint8Array> | JsonValue;
      dropHeaders: string[];
      /** The checked message itself, unframed and uncompressed: protobuf bytes, or a Connect call's JSON. */
      message?: UnaryInput;
    }
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
  /** Shared by every call: the bytes of request bodies the bridge holds at once. */
  budget: BodyBudget;
}

/**
 * Bytes of request bodies held at once, across every call and connection: without it, one HTTP/2
 * session of 1000 streams each sending most of a message and never ending it holds 1000 messages.
 */
export class BodyBudget {
  #left: number;

  constructor(readonly bytes: number) {
    this.#left = bytes;
  }

  get left(): number {
    return this.#left;
  }

  /** Takes `n` bytes; false (nothing taken) when fewer are left. */
  take(n: number): boolean {
    if (n > this.#left) return false;
    this.#left -= n;
    return true;
  }

  give(n: number): void {
    this.#left += n;
  }
}

/** How many request messages of the largest size the bridge holds at once. */
export const bodiesHeldAtOnce = 32;

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
  if (declared > options.budget.left) return busy(options.budget);

  const read = await readAll(req, limit, options.timeoutMs, options.budget);
  if (read === "gone") return { kind: "gone" };
  if (read === "busy") return busy(options.budget);
  if (read === "timeout") {
    const seconds = options.timeoutMs / 1000;
    const error = new ZeroGError("request_timeout", `the request body did not arrive within ${seconds} s`);
    return { kind: "error", error, bodyRead: false };
  }
  if (read === "too-large") return tooLarge(undefined, options.readMaxBytes, false);
  // Case matters: connect takes "gzip", not "GZIP".
  const encoding = String(req.headers[encodingHeader[protocol]] ?? "identity");
  try {
    return await checkBody(read, { protocol, isJson, input, encoding, readMaxBytes: options.readMaxBytes });
  } finally {
    options.budget.give(read.length);
  }
}

interface BodyShape {
  protocol: RpcProtocol;
  isJson: boolean;
  input: DescMessage;
  /** The compression named by the request's encoding header ("identity" without one). */
  encoding: string;
  readMaxBytes: number;
}

/** Undoes a whole body's framing and compression and checks its message (see readCheckedBody). */
async function checkBody(
  read: Buffer,
  { protocol, isJson, input, encoding, readMaxBytes }: BodyShape,
): Promise<CheckedBody> {
  const compression = compressions[encoding];
  const asReceived: CheckedBody = { kind: "body", body: () => createAsyncIterable([read]), dropHeaders: [] };
  let payload: Uint8Array = read;
  if (protocol !== "connect-unary") {
    // One enveloped message: unary and server-streaming calls send exactly one (connect answers
    // a missing, incomplete or extra one).
    const flags = read[0]!;
    const length = read.length >= 5 ? read.readUInt32BE(1) : -1;
    if (length !== read.length - 5) return asReceived;
    // Anything but these would reach connect, which decodes it without the strict check.
    if (flags !== 0 && flags !== 1)
      return protocolError(`is flagged 0x${flags.toString(16).padStart(2, "0")}`);
    payload = read.subarray(5);
    if (flags === 0) return checked(payload);
    if (compression === null)
      return protocolError(
        `is flagged compressed, but the call names no compression (${encodingHeader[protocol]})`,
      );
  }
  if (compression === undefined) return asReceived;
  if (compression !== null) {
    try {
      payload = await compression.decompress(payload, readMaxBytes);
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
      const json = decoded.value;
      if (protocol === "connect-unary")
        return { kind: "body", body: () => json, dropHeaders, message: { json } };
      const body = () => createAsyncIterable([encodeEnvelope(0, encoder.encode(JSON.stringify(json)))]);
      return { kind: "body", body, dropHeaders };
    }
    const violations = checkBinary(input, message);
    if (violations.length) return { kind: "error", error: invalidArgument(violations), bodyRead: true };
    const body = () =>
      createAsyncIterable([protocol === "connect-unary" ? message : encodeEnvelope(0, message)]);
    return { kind: "body", body, dropHeaders, message: { binary: message } };
  }
}

/** A request message's envelope that no client of the protocol sends (gRPC: "MUST be rejected"). */
function protocolError(what: string): CheckedBody {
  const error = new ZeroGError(
    "invalid_argument",
    `protocol error: the request message's envelope ${what}; a request message is flagged 0 (plain) or 1 (compressed, as its encoding header names)`,
  );
  return { kind: "error", error, bodyRead: true };
}

function tooLarge(size: number | undefined, max: number, bodyRead: boolean): CheckedBody {
  const what = size === undefined ? "the request body is" : `the request body (${size} bytes) is`;
  return {
    kind: "error",
    error: new ZeroGError("request_too_large", `${what} over the bridge's limit of ${mib(max)}`),
    bodyRead,
  };
}

function busy(budget: BodyBudget): CheckedBody {
  const error = new ZeroGError(
    "resource_exhausted",
    `the bridge holds as many request bodies as it may at once (${mib(budget.bytes)}, ${bodiesHeldAtOnce} times --max-request-bytes); retry in a second`,
    { retryDelayMs: 1000 },
  );
  return { kind: "error", error, bodyRead: false };
}

type ReadOutcome = Buffer | "too-large" | "busy" | "timeout" | "gone";

/**
 * The whole body, taken from `budget` (the caller gives it back), or why not: over `limit` bytes, over
 * the budget, not complete in `timeoutMs`, or the client went away.
 */
function readAll(
  req: NodeRequest,
  limit: number,
  timeoutMs: number,
  budget: BodyBudget,
): Promise<ReadOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (outcome: ReadOutcome) => {
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onGone);
      if (typeof outcome === "string") {
        req.pause();
        budget.give(size);
      }
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > limit) return done("too-large");
      if (!budget.take(chunk.length)) return done("busy");
      size += chunk.length;
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
