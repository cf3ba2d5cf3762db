import type http from "node:http";
import type { DescService } from "@bufbuild/protobuf";
import { Health, toConnectError, ZeroGError } from "@chaoschain/zerog-core";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  cors,
  createConnectRouter,
  createContextValues,
  createServiceImplSpec,
  type Interceptor,
} from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { type CallGate, callerKey, traceKey } from "../auth/call-gate.js";
import { codeName, type ObserveCall } from "../interceptors/metrics.js";
import type { Rate } from "../limits/rate-limiter.js";
import { exposition } from "../metrics/registry.js";
import { throttledRender } from "../metrics/throttled-render.js";
import { quoteBounded } from "../wire/violations.js";
import type { ConnectionFront } from "./connections.js";
import { deadlineRefusal, maxDeadlineMs } from "./deadline.js";
import { endDiscardingBody } from "./discard-body.js";
import { allowedOrigin, type CorsOrigins, crossOriginRefused } from "./gate.js";
import { BodyBudget, bodiesHeldAtOnce, type CheckedBody, readCheckedBody } from "./request-body.js";
import {
  type NodeRequest,
  type NodeResponse,
  rpcProtocol,
  type WriteRpcErrorOptions,
  writeRpcError,
} from "./rpc-errors.js";
import { traceFromHeader } from "./trace-context.js";
import { createUnaryCall, unaryProtocolOf } from "./unary-call.js";

/**
 * Who may read `GET /metrics`: callers with an API key (when the bridge has keys), callers with an
 * operator key (`allJobs`), anyone, or no one.
 */
export type MetricsAccess = "auth" | "operator" | "public" | "off";

export interface RpcHandlerOptions {
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  /** Aborted at shutdown: streaming handlers see it through `ctx.signal`. */
  shutdownSignal: AbortSignal;
  front: ConnectionFront;
  /** Largest request message, bytes. */
  readMaxBytes: number;
  /** A request body must arrive within this after its head, ms. */
  requestTimeoutMs: number;
  /** Browser origins allowed to call. */
  corsOrigins: CorsOrigins;
  /** Admits calls to every service but health (API key, rate limit), before the body is read. */
  gate: CallGate;
  /** `GET /metrics` on the same port. */
  metrics?: { access: MetricsAccess; expose(): Promise<string> } | undefined;
  /** Counts the calls this handler refuses itself (the rest are counted by an interceptor). */
  observe?: ObserveCall | undefined;
  /** Checks the Host header (DNS rebinding); set once the address is known. */
  checkHost: (authority: string | undefined) => ZeroGError | undefined;
  /** An error no caller can be told about (a failed response write). */
  onError: (err: unknown, procedure: string) => void;
}

/** The request handler, and how to tell it a request waits for `100 Continue` before sending its body. */
export interface RpcHandler {
  (req: NodeRequest, res: NodeResponse): void;
  /**
   * The request of `res` sent `Expect: 100-continue` (node's "checkContinue"): the handler answers
   * 100 once the call is admitted, before it reads the body.
   */
  awaitContinue(res: NodeResponse): void;
}

/** How often `GET /metrics` renders anew; scrapes over it get the last text rendered. */
export const metricsRenderRate: Rate = { perSecond: 5, burst: 10 };

const wire = (err: ZeroGError | ConnectError) => (err instanceof ZeroGError ? toConnectError(err) : err);

/**
 * The node request handler for every RPC (in place of connect-node's adapter). Before a body is read,
 * a call is refused when its connection is over the limit, the bridge is stopping, its origin or Host
 * is not allowed, or it lacks the API key: refusing costs nothing, whatever the body (a client that
 * sent `Expect: 100-continue` gets its 100 only once admitted, see `awaitContinue`). Then the body is
 * read within its size and time limits and checked strictly (unknown fields, unknown enum values,
 * malformed bytes are INVALID_ARGUMENT naming the field). A unary call is then answered by
 * createUnaryCall (connect's interceptors and service, without its streaming pipeline); any other call goes
 * to connect's handler for its protocol (gRPC, gRPC-web or Connect).
 */
export function createRpcHandler(o: RpcHandlerOptions): RpcHandler {
  // What connect's handlers and createUnaryCall share.
  const common = {
    interceptors: o.interceptors,
    shutdownSignal: o.shutdownSignal,
    acceptCompression: [compressionGzip, compressionBrotli],
    compressMinBytes: 1024,
  };
  const unaryOptions = { ...common, maxTimeoutMs: maxDeadlineMs, closeConnection: () => o.front.draining };
  const router = createConnectRouter({
    ...common,
    readMaxBytes: o.readMaxBytes,
    // Checked before connect sees the body; this only backs that check up.
    jsonOptions: { ignoreUnknownFields: false },
    // Checked before connect sees the call (deadlineRefusal); this only backs that check up.
    maxTimeoutMs: maxDeadlineMs,
  });
  const unaryCalls = new Map<string, ReturnType<typeof createUnaryCall>>();
  o.routes(
    new Proxy(router, {
      get(target, property, receiver) {
        if (property !== "service") return Reflect.get(target, property, receiver);
        // Each unary method of a service is also answered by createUnaryCall (see there).
        return (service: DescService, impl: object, options?: object) => {
          if (options === undefined) {
            const spec = createServiceImplSpec(service, impl as never);
            for (const method of Object.values(spec.methods))
              if (method.kind === "unary")
                unaryCalls.set(
                  `/${service.typeName}/${method.method.name}`,
                  createUnaryCall(method, unaryOptions),
                );
          }
          target.service(service, impl as never, options);
          // As connect's router returns itself: a chained .service() goes through here too.
          return receiver;
        };
      },
    }),
  );
  const handlers = new Map<string, UniversalHandler>(router.handlers.map((h) => [h.requestPath, h]));
  const budget = new BodyBudget(bodiesHeldAtOnce * o.readMaxBytes);
  const awaitingContinue = new WeakSet<NodeResponse>();
  const metrics = o.metrics && {
    access: o.metrics.access,
    expose: throttledRender(o.metrics.expose, metricsRenderRate),
  };

  async function handle(req: NodeRequest, res: NodeResponse, handler: UniversalHandler | undefined) {
    const isH2 = "stream" in req;
    const started = performance.now();
    // Only known methods are metric labels: a request's path could be anything.
    const method = handler ? `${handler.service.typeName}/${handler.method.name}` : "unknown";
    let callerId = "";
    const refuse = (error: ZeroGError | ConnectError, options?: WriteRpcErrorOptions) => {
      const wireError = wire(error);
      o.observe?.(method, codeName(wireError), callerId, (performance.now() - started) / 1000);
      writeRpcError(req, res, wireError, { ...options, awaitsContinue: awaitingContinue.has(res) });
    };
    const conn = o.front.connectionOf(req);
    if (conn?.refused) {
      const error = new ZeroGError(
        "too_many_connections",
        "too many connections: the bridge is serving as many as it may (--max-connections); retry later",
      );
      return refuse(error, { close: true });
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const allowed = allowedOrigin(o.corsOrigins, origin);
      if (allowed === undefined) {
        if (req.method === "OPTIONS")
          return plain(res, 403, "cross-origin calls from this origin are not allowed");
        return refuse(crossOriginRefused(origin));
      }
      res.setHeader("access-control-allow-origin", allowed);
      res.setHeader("vary", "origin");
      res.setHeader("access-control-expose-headers", cors.exposedHeaders.join(", "));
    }
    if (req.method === "OPTIONS") {
      res.setHeader("access-control-allow-methods", cors.allowedMethods.join(", "));
      res.setHeader("access-control-allow-headers", [...cors.allowedHeaders, "Authorization"].join(", "));
      res.setHeader("access-control-max-age", "7200");
      return plain(res, 204);
    }
    const hostError = o.checkHost(isH2 ? (req as { authority: string }).authority : req.headers.host);
    if (hostError) return refuse(hostError);
    if (!handler) {
      if (metrics && metrics.access !== "off" && (req.url ?? "").split("?", 1)[0] === "/metrics")
        return serveMetrics(req, res, metrics, (authorization) =>
          o.gate.authorized(authorization, metrics.access === "operator"),
        );
      // HTTP/1.1: the body not read, the connection closes (after a little of it is discarded).
      return plain(res, 404, undefined, isH2 ? undefined : { req, bodyComing: !awaitingContinue.has(res) });
    }
    const isHealth = handler.service.typeName === Health.typeName;
    if (o.front.draining && !isHealth) {
      const error = new ZeroGError("shutting_down", "the bridge is shutting down and takes no new calls");
      return refuse(error, { close: true });
    }
    const contextValues = createContextValues();
    if (!isHealth) {
      const caller = o.gate.admit(req.headers.authorization);
      if (caller instanceof ZeroGError) return refuse(caller);
      callerId = caller.id;
      contextValues.set(callerKey, caller);
      const traceparent = req.headers.traceparent;
      contextValues.set(traceKey, traceFromHeader(Array.isArray(traceparent) ? traceparent[0] : traceparent));
    }

    const deadline = deadlineRefusal(req.headers);
    if (deadline) return refuse(deadline);
    // Admitted: the client may send its body now.
    if (awaitingContinue.delete(res)) res.writeContinue();

    const contentType = String(req.headers["content-type"] ?? "");
    const protocol = rpcProtocol(contentType);
    // Unary and server-streaming calls send one message, read whole here; a client stream goes to connect.
    const oneMessage =
      handler.method.methodKind === "unary" || handler.method.methodKind === "server_streaming";
    const checked: CheckedBody = oneMessage
      ? await readCheckedBody(req, protocol, handler.method.input, {
          readMaxBytes: o.readMaxBytes,
          timeoutMs: o.requestTimeoutMs,
          budget,
        })
      : { kind: "unread" };
    if (checked.kind === "gone") return;
    if (checked.kind === "error") {
      // An unread body closes an HTTP/1.1 connection (writeRpcError); on HTTP/2 only its stream ends,
      // so the client's other calls on the session go on.
      return refuse(checked.error, { bodyRead: checked.bodyRead });
    }
    let uReq: UniversalServerRequest;
    try {
      uReq = universalRequestFromNodeRequest(req, res, undefined, contextValues);
    } catch {
      // connect-node makes no URL of a request without a host (HTTP/1.0 without Host) or "Host: a b".
      const host = quoteBounded(String(req.headers.host ?? ""));
      return refuse(
        new ZeroGError(
          "invalid_argument",
          `the request's Host header ${host} names no host: send the bridge's host name`,
        ),
        { bodyRead: checked.kind !== "unread" },
      );
    }
    // A checked unary message in a protocol connect takes for it: answered here (see createUnaryCall).
    const message = checked.kind === "body" ? checked.message : undefined;
    const unaryCall = message && unaryCalls.get(handler.requestPath);
    const unary = unaryCall && unaryProtocolOf(contentType);
    if (unaryCall && unary && message && "binary" in message === unary.binary)
      return unaryCall(uReq, res, unary.protocol, message);
    if (checked.kind === "unread" && !isH2) res.setHeader("connection", "close");
    if (checked.kind === "body") {
      for (const name of checked.dropHeaders) uReq.header.delete(name);
      uReq = { ...uReq, body: checked.body() };
    }
    let uRes = await handler(uReq);
    // Stopping: the answer to a call in progress closes its HTTP/1.1 connection.
    if (o.front.draining && !isH2) uRes = { ...uRes, header: withHeader(uRes.header, "connection", "close") };
    await universalResponseToNodeResponse(uRes, res);
  }

  return Object.assign(
    (req: NodeRequest, res: NodeResponse) => {
      const handler = handlers.get((req.url ?? "").split("?", 1)[0]!);
      handle(req, res, handler).catch((err: unknown) => {
        const code = ConnectError.from(err).code;
        if (code !== Code.Canceled && code !== Code.Aborted)
          o.onError(err, handler?.method.name ?? String(req.url));
        if (!res.headersSent) plain(res, 500);
        else res.destroy();
      });
    },
    { awaitContinue: (res: NodeResponse) => void awaitingContinue.add(res) },
  );
}

/** `GET /metrics`: the text exposition, for Prometheus; with `auth`, only with a valid API key (`operator`: an operator's). */
async function serveMetrics(
  req: NodeRequest,
  res: NodeResponse,
  metrics: NonNullable<RpcHandlerOptions["metrics"]>,
  authorized: (authorization: string | undefined) => boolean,
): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    (res as http.ServerResponse).setHeader("allow", "GET, HEAD");
    return plain(res, 405, "GET /metrics only");
  }
  if (
    (metrics.access === "auth" || metrics.access === "operator") &&
    !authorized(req.headers.authorization)
  ) {
    (res as http.ServerResponse).setHeader("www-authenticate", "Bearer");
    return plain(
      res,
      401,
      metrics.access === "operator"
        ? 'metrics need an operator API key ("allJobs": true in the keys file): authorization: Bearer <key>'
        : "metrics need an API key: authorization: Bearer <key> (or start the bridge with --metrics public)",
    );
  }
  const text = await metrics.expose();
  const h1 = res as http.ServerResponse;
  h1.setHeader("content-type", exposition);
  h1.setHeader("cache-control", "no-store");
  h1.writeHead(200);
  h1.end(req.method === "HEAD" ? undefined : text);
}

function withHeader(header: HeadersInit | undefined, name: string, value: string): Headers {
  const out = new Headers(header);
  out.set(name, value);
  return out;
}

/** A plain-text answer; with `unreadBody`, an HTTP/1.1 request whose body is not read: the connection closes. */
function plain(
  res: NodeResponse,
  status: number,
  text?: string,
  unreadBody?: { req: NodeRequest; bodyComing: boolean },
): void {
  const h1 = res as http.ServerResponse;
  if (text) h1.setHeader("content-type", "text/plain; charset=utf-8");
  if (!unreadBody) {
    h1.writeHead(status);
    return void h1.end(text);
  }
  h1.setHeader("connection", "close");
  h1.setHeader("content-length", text ? Buffer.byteLength(text) : 0);
  h1.writeHead(status);
  if (text) h1.write(text);
  endDiscardingBody(unreadBody.req as http.IncomingMessage, h1, unreadBody.bodyComing);
}
