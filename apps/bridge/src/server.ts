import http from "node:http";
import http2 from "node:http2";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import {
  type ConnectionLimits,
  createConnectionFront,
  defaultConnectionLimits,
  fileDescriptorLimit,
  reservedFileDescriptors,
} from "./http/connections.js";
import { type CorsOrigins, createHostCheck } from "./http/gate.js";
import { createRpcHandler } from "./http/rpc-handler.js";
import { createApiKeyCheck } from "./interceptors/auth.js";

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
  /** Required bearer key for every service but health, checked before a body is read. */
  apiKey?: string | undefined;
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
 * One port for every protocol: gRPC and Connect over HTTP/2 cleartext (h2c with prior knowledge),
 * and Connect and gRPC-web over HTTP/1.1 (curl without --http2-prior-knowledge, browsers), with a
 * timeout on every stage of a connection and a bound on how many are served at once.
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const limits = fitToFileDescriptors({ ...defaultServerLimits, ...options.limits }, options.logger);
  let checkHost: ReturnType<typeof createHostCheck> = () => undefined;
  const h1 = http.createServer({ keepAliveTimeout: 0, requestTimeout: 0, headersTimeout: 0 });
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: limits.maxStreamsPerSession } });
  const front = createConnectionFront(h1, h2, limits, (err) =>
    options.logger.error({ err }, "accepting a connection failed"),
  );
  const handler = createRpcHandler({
    routes: options.routes,
    interceptors: options.interceptors,
    shutdownSignal: options.shutdownSignal,
    front,
    readMaxBytes: limits.readMaxBytes,
    requestTimeoutMs: limits.requestTimeoutMs,
    corsOrigins: options.corsOrigins,
    checkApiKey: options.apiKey ? createApiKeyCheck(options.apiKey) : undefined,
    checkHost: (authority) => checkHost(authority),
    onError: (err, procedure) => options.logger.error({ err, procedure }, "answering a call failed"),
  });
  h1.on("request", handler);
  h2.on("request", handler);

  return {
    limits,
    async listen(host, port) {
      const address = await front.listen(host, port);
      checkHost = createHostCheck(host, options.allowedHosts ?? []);
      return { host: address.address, port: address.port };
    },
    drain: () => front.drain(),
    close: (deadline) => front.closed(deadline),
  };
}
