import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { type ConnectRouter, cors as connectCors, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

export interface HttpServerOptions {
  routes: (router: ConnectRouter) => void;
  interceptors: Interceptor[];
  /** Aborted at shutdown: streaming handlers see it through `ctx.signal`. */
  shutdownSignal: AbortSignal;
  /** Largest request message, bytes. */
  readMaxBytes?: number;
}

export interface HttpServer {
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stops accepting, lets open calls finish for `graceMs`, then drops the remaining connections. */
  close(graceMs: number): Promise<void>;
}

const http2Preface = "PRI";

/**
 * One port for every protocol: gRPC and Connect over HTTP/2 cleartext (h2c with prior knowledge),
 * and Connect and gRPC-web over HTTP/1.1 (curl without --http2-prior-knowledge, browsers).
 * Each connection's first bytes tell them apart: HTTP/2 starts with the "PRI * HTTP/2.0" preface.
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const connect = connectNodeAdapter({
    routes: options.routes,
    interceptors: options.interceptors,
    shutdownSignal: options.shutdownSignal,
    readMaxBytes: options.readMaxBytes ?? 8 * 1024 * 1024,
  });
  const handler = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    // Bearer keys are never sent automatically by browsers, so any origin may call.
    res.setHeader("access-control-allow-origin", "*");
    res.setHeader("access-control-expose-headers", connectCors.exposedHeaders.join(", "));
    if (req.method === "OPTIONS") {
      res.setHeader("access-control-allow-methods", connectCors.allowedMethods.join(", "));
      res.setHeader(
        "access-control-allow-headers",
        [...connectCors.allowedHeaders, "Authorization"].join(", "),
      );
      res.setHeader("access-control-max-age", "7200");
      res.writeHead(204);
      res.end();
      return;
    }
    connect(req as never, res as never);
  };
  const h1 = http.createServer(handler);
  const h2 = http2.createServer({}, handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();
  const front = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const route = () => {
      const head = socket.read() as Buffer | null;
      if (head === null) return socket.once("readable", route);
      socket.unshift(head);
      if (head.length < http2Preface.length && http2Preface.startsWith(head.toString("latin1"))) {
        return socket.once("readable", route);
      }
      (head.toString("latin1", 0, 3) === http2Preface ? h2 : h1).emit("connection", socket);
    };
    socket.once("readable", route);
  });

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        front.once("error", reject);
        front.listen(port, host, () => {
          front.off("error", reject);
          const addr = front.address() as net.AddressInfo;
          resolve({ host: addr.address, port: addr.port });
        });
      });
    },
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
        h1.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
