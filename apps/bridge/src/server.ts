import http from "node:http";
import http2 from "node:http2";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { CallGate } from "./auth/call-gate.js";
import {
  type ConnectionLimits,
  type ConnectionStats,
  createConnectionFront,
  defaultConnectionLimits,
  fileDescriptorLimit,
  reservedFileDescriptors,
} from "./http/connections.js";
import { type CorsOrigins, createHostCheck } from "./http/gate.js";
import { createRpcHandler, type MetricsAccess } from "./http/rpc-handler.js";
import { createTlsServer, type TlsFiles } from "./http/tls.js";
import type { ObserveCall } from "./interceptors/metrics.js";

/** Every limit of the HTTP server; see the README's "Limits and timeouts". */
export interface ServerLimits extends ConnectionLimits {
  /** A request body must arrive within this after its head, ms. */
  requestTimeoutMs: number;
  /** Largest request message, bytes. */
  readMaxBytes: number;
  /** Streams one HTTP/2 session may have open at once. */
  maxStreamsPerSession: number;
}

export const defaultServerLimits: ServerLimits = {
  ...defaultConnectionLimits,
  requestTimeoutMs: 60_000,
  readMaxBytes: 8 * 1024 * 1024,
  maxStreamsPerSession: 1000,
};

export interface HttpServerOptions {
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  /** Aborted at shutdown: streaming handlers see it through `ctx.signal`. */
  shutdownSignal: AbortSignal;
  logger: Logger;
  limits?: Partial<ServerLimits> | undefined;
  /** Admits calls to every service but health (API key, rate limit) before a body is read. */
  gate: CallGate;
  /** Serve TLS with these files (ALPN h2 and http/1.1); cleartext without. */
  tls?: TlsFiles | undefined;
  /** `GET /metrics` on the same port. */
  metrics?: { access: MetricsAccess; expose(): Promise<string> } | undefined;
  /** Counts the calls the HTTP layer refuses itself. */
  observe?: ObserveCall | undefined;
  /** Browser origins allowed to call. */
  corsOrigins: CorsOrigins;
  /** Host names accepted besides loopback ones when listening on loopback. */
  allowedHosts?: readonly string[] | undefined;
}

export interface HttpServer {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /**
   * Stops taking calls: no new connection, idle ones closed, GOAWAY on HTTP/2, and every new call
   * answered UNAVAILABLE with `Connection: close`. Calls in progress go on.
   */
  drain(): void;
  /** Drains, then resolves once every connection is closed; what is still open at `deadline` is dropped. */
  close(deadline: number): Promise<void>;
  /** The limits in force (max connections lowered to fit the file descriptor limit). */
  readonly limits: ServerLimits;
  /** Connections by protocol, accepted and refused: for metrics. */
  connectionStats(): ConnectionStats;
  /** Reads the TLS files again for new connections (certificate rotation); throws when they do not load. */
  reloadTls(): void;
}

/** Lowers `maxConnections` so that connections can never use up the process's file descriptors. */
function fitToFileDescriptors(limits: ServerLimits, logger: Logger): ServerLimits {
  const fds = fileDescriptorLimit();
  if (fds === undefined || limits.maxConnections + reservedFileDescriptors <= fds) return limits;
  const maxConnections = Math.max(1, fds - reservedFileDescriptors);
  logger.warn(
    { requested: limits.maxConnections, maxConnections, fileDescriptorLimit: fds },
    "--max-connections lowered to fit the file descriptor limit (ulimit -n)",
  );
  return { ...limits, maxConnections };
}

/**
 * One port for every protocol: gRPC and Connect over HTTP/2 (h2c with prior knowledge in cleartext,
 * ALPN h2 with TLS), and Connect and gRPC-web over HTTP/1.1 (curl without --http2-prior-knowledge,
 * browsers), with a timeout on every stage of a connection and a bound on how many are served at once.
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const limits = fitToFileDescriptors({ ...defaultServerLimits, ...options.limits }, options.logger);
  let checkHost: ReturnType<typeof createHostCheck> = () => undefined;
  const h1 = http.createServer({ keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 0 });
  const h2 = http2.createServer({
    settings: { maxConcurrentStreams: limits.maxStreamsPerSession },
    // Room for the largest request allowed (node's default, 10 MB, is too little above 5 MB).
    maxSessionMemory: Math.max(10, Math.ceil((limits.readMaxBytes * 2) / 2 ** 20)),
  });
  const tls = options.tls ? createTlsServer(options.tls, limits.headerTimeoutMs) : undefined;
  const front = createConnectionFront(
    h1,
    h2,
    limits,
    (err) => options.logger.error({ err }, "accepting a connection failed"),
    tls?.server,
  );
  const handler = createRpcHandler({
    routes: options.routes,
    interceptors: options.interceptors,
    shutdownSignal: options.shutdownSignal,
    front,
    readMaxBytes: limits.readMaxBytes,
    requestTimeoutMs: limits.requestTimeoutMs,
    corsOrigins: options.corsOrigins,
    gate: options.gate,
    metrics: options.metrics,
    observe: options.observe,
    checkHost: (authority) => checkHost(authority),
    onError: (err, procedure) => options.logger.error({ err, procedure }, "answering a call failed"),
  });
  h1.on("request", handler);
  h2.on("request", handler);
  // Expect: 100-continue: node would answer 100 before any check; the handler answers it once the call
  // is admitted (API key, rate, limits), and refuses it without reading the body otherwise.
  h1.on("checkContinue", (req: http.IncomingMessage, res: http.ServerResponse) => {
    handler.awaitContinue(res);
    h1.emit("request", req, res);
  });
  h2.on("checkContinue", (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    handler.awaitContinue(res);
    h2.emit("request", req, res);
  });

  return {
    limits,
    async listen(host, port) {
      const address = await front.listen(host, port);
      checkHost = createHostCheck(host, options.allowedHosts ?? []);
      return { host: address.address, port: address.port };
    },
    drain: () => front.drain(),
    close: (deadline) => front.closed(deadline),
    connectionStats: () => front.stats(),
    reloadTls() {
      if (!tls) throw new Error("the bridge serves without TLS: nothing to reload");
      tls.reload();
    },
  };
}
