import { readFileSync } from "node:fs";
import type http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type tls from "node:tls";
import { type Rate, RateLimiter } from "../limits/rate-limiter.js";

/** How long each stage of a connection may take, and how many connections are served at once. */
export interface ConnectionLimits {
  /** A connection must send a complete request head within this after it opens, ms. */
  headerTimeoutMs: number;
  /** An HTTP/1.1 connection with no request in progress is closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** An HTTP/2 session with no open stream is closed (GOAWAY) after this, ms. */
  idleTimeoutMs: number;
  /** Connections served at once; each one over it is answered UNAVAILABLE and closed. */
  maxConnections: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
  headerTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  maxConnections: 4096,
};

/** Connections over the limit that may wait at once for their refusal; more are dropped unanswered. */
const maxRefusing = 64;
/** How long a connection over the limit may take to send the request it is refused. */
const refusalTimeoutMs = 5_000;
/** File descriptors kept for everything but client connections: the job store, providers, the chain RPC. */
export const reservedFileDescriptors = 256;

const http2Preface = "PRI";

/**
 * Streams an HTTP/2 client may reset (RST_STREAM) per second, and at once above that rate; over it, the
 * connection is closed with GOAWAY ENHANCE_YOUR_CALM (rapid reset, CVE-2023-44487). Below nghttp2's own
 * bound (1000 at once, 33 per second), which sends GOAWAY but leaves the connection open and unread.
 */
export const streamResetRate: Rate = { perSecond: 33, burst: 500 };

/** One accepted TCP connection, from its first byte to its close. */
export class Connection {
  readonly socket: net.Socket;
  /** The socket HTTP is spoken on: `socket`, or the TLS socket over it. */
  stream: net.Socket;
  /** Over the connection limit: every request on it is answered UNAVAILABLE, then it closes. */
  readonly refused: boolean;
  protocol: "unknown" | "h1" | "h2" = "unknown";
  session: http2.ServerHttp2Session | undefined;
  /** Requests (HTTP/1.1) or streams (HTTP/2) in progress. */
  active = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Set once cut off (`abort`): destroys the connection unless it closed before. */
  #abortTimer: NodeJS.Timeout | undefined;

  constructor(socket: net.Socket, refused: boolean) {
    this.socket = socket;
    this.stream = socket;
    this.refused = refused;
  }

  /** Runs `onExpiry` in `ms` unless a request starts or the timer is set again first. */
  expireIn(ms: number, onExpiry: () => void): void {
    if (this.#abortTimer) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(onExpiry, ms);
  }

  clearExpiry(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Closes gracefully: GOAWAY for HTTP/2 (open streams finish), a FIN after what is written for
   * HTTP/1.1 and unknown, and a reset if the peer has not closed its side a second later.
   */
  close(): void {
    if (this.session && !this.session.destroyed) {
      this.session.close();
      return;
    }
    this.stream.end();
    this.expireIn(1000, () => this.destroy());
  }

  /**
   * Cuts an abusive client off: GOAWAY with `code` on HTTP/2 (no new stream is taken), and the
   * connection destroyed a second later if the client has not closed it by then.
   */
  abort(code: number): void {
    if (this.#abortTimer) return;
    this.clearExpiry();
    this.#abortTimer = setTimeout(() => this.destroy(), 1000).unref();
    // Destroyed only then, not at once: a close with the client's frames unread would reset the
    // connection, and the client might never read the GOAWAY. Streams it opens after it are ignored.
    if (this.session && !this.session.destroyed) this.session.goaway(code);
    else this.stream.end();
  }

  /** Closes at once, whatever is in progress. */
  destroy(): void {
    this.clearExpiry();
    clearTimeout(this.#abortTimer);
    if (this.session && !this.session.destroyed) this.session.destroy();
    this.stream.destroy();
    this.socket.destroy();
  }
}

/** The listening side: accepts, sniffs the protocol, hands each connection over, and times each stage. */
export interface ConnectionFront {
  listen(host: string, port: number): Promise<net.AddressInfo>;
  /** The connection a request arrived on. */
  connectionOf(req: http.IncomingMessage | http2.Http2ServerRequest): Connection | undefined;
  /** True once `drain()` was called: no request is taken any more. */
  readonly draining: boolean;
  /** Connections open now (served and refused). */
  readonly size: number;
  /** Connections open by protocol, and accepted and refused since start: for metrics. */
  stats(): ConnectionStats;
  /**
   * Stops taking requests: stops listening, closes idle connections, sends GOAWAY on HTTP/2 sessions and
   * closes each HTTP/1.1 connection after the response in progress.
   */
  drain(): void;
  /** Resolves once every connection is closed, destroying those still open at `deadline` (epoch ms). */
  closed(deadline: number): Promise<void>;
}

export interface ConnectionStats {
  open: Record<"h1" | "h2" | "unknown" | "refused", number>;
  accepted: number;
  refused: number;
}

/**
 * The file descriptors this process may open (`ulimit -n`), from /proc on Linux; undefined elsewhere.
 */
export function fileDescriptorLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return line && line[1] !== "unlimited" ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Accepts connections for `h1` and `h2` on one port. In cleartext, each connection's first bytes tell
 * the protocols apart (HTTP/2 starts with the "PRI * HTTP/2.0" preface); bytes are read as they come,
 * with no busy loop, so a client sending "P" and nothing else only waits for its header timeout.
 * With `tls`, every connection is TLS and ALPN picks the protocol (h2, else HTTP/1.1); the handshake
 * counts against the header timeout.
 */
export function createConnectionFront(
  h1: http.Server,
  h2: http2.Http2Server,
  limits: ConnectionLimits,
  onError: (err: Error) => void,
  tlsServer?: tls.Server,
): ConnectionFront {
  const connections = new Set<Connection>();
  const bySocket = new WeakMap<net.Socket, Connection>();
  const bySession = new WeakMap<http2.ServerHttp2Session, Connection>();
  let served = 0;
  let refusing = 0;
  let accepted = 0;
  let refusedTotal = 0;
  let draining = false;
  let handingOver: Connection | undefined;
  let whenEmpty: (() => void) | undefined;

  // A request starts: no timer runs while it is in progress. It ends: the idle timer starts.
  const begin = (conn: Connection) => {
    conn.active++;
    conn.clearExpiry();
  };
  const end = (conn: Connection) => {
    conn.active--;
    if (conn.active > 0) return;
    if (draining || conn.refused) return conn.close();
    conn.expireIn(conn.protocol === "h2" ? limits.idleTimeoutMs : limits.keepAliveTimeoutMs, () =>
      conn.close(),
    );
  };

  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const conn = bySocket.get(req.socket);
    if (!conn) return;
    begin(conn);
    res.once("close", () => end(conn));
  });
  h2.on("session", (session) => {
    const conn = handingOver;
    if (!conn) return session.destroy();
    conn.session = session;
    bySession.set(session, conn);
    session.on("error", () => {});
    const resets = new RateLimiter();
    session.on("stream", (stream) => {
      begin(conn);
      stream.once("close", () => {
        end(conn);
        if (stream.rstCode === http2.constants.NGHTTP2_NO_ERROR) return;
        if (resets.take("", streamResetRate) !== undefined)
          conn.abort(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      });
    });
  });

  function handOver(conn: Connection, protocol: "h1" | "h2") {
    conn.protocol = protocol;
    if (protocol === "h1") return h1.emit("connection", conn.stream);
    handingOver = conn;
    try {
      h2.emit("connection", conn.stream);
    } finally {
      handingOver = undefined;
    }
  }

  /** Reads the first bytes as they arrive (at most three are needed), then hands the socket over. */
  function sniff(conn: Connection) {
    const { socket } = conn;
    let head: Buffer = Buffer.alloc(0);
    const onReadable = () => {
      for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null)
        head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const start = head.toString("latin1", 0, Math.min(head.length, http2Preface.length));
      // Nothing yet, or a prefix of the HTTP/2 preface: wait for the next bytes (no re-reading).
      if (head.length < http2Preface.length && http2Preface.startsWith(start)) return;
      socket.off("readable", onReadable);
      socket.unshift(head);
      handOver(conn, start === http2Preface ? "h2" : "h1");
    };
    socket.on("readable", onReadable);
  }

  tlsServer?.on("secureConnection", (secure: tls.TLSSocket) => {
    // The TLS server wraps the socket the front accepted (`_parent`: Node's name for it).
    const conn = bySocket.get((secure as tls.TLSSocket & { _parent?: net.Socket })._parent!);
    if (!conn || conn.socket.destroyed) return secure.destroy();
    conn.stream = secure;
    bySocket.set(secure, conn);
    secure.on("error", () => conn.destroy());
    handOver(conn, secure.alpnProtocol === "h2" ? "h2" : "h1");
  });
  // A failed handshake (plaintext on a TLS port, an untrusted client): that connection only.
  tlsServer?.on("tlsClientError", (_err, secure) => secure.destroy());

  const front = net.createServer({ noDelay: true }, (socket) => {
    if (draining) return socket.destroy();
    const refused = served >= limits.maxConnections;
    if (refused && refusing >= maxRefusing) return socket.destroy();
    const conn = new Connection(socket, refused);
    connections.add(conn);
    bySocket.set(socket, conn);
    accepted++;
    if (refused) {
      refusing++;
      refusedTotal++;
    } else served++;
    socket.on("error", () => socket.destroy());
    socket.once("close", () => {
      conn.clearExpiry();
      connections.delete(conn);
      if (refused) refusing--;
      else served--;
      if (connections.size === 0) whenEmpty?.();
    });
    conn.expireIn(refused ? Math.min(refusalTimeoutMs, limits.headerTimeoutMs) : limits.headerTimeoutMs, () =>
      conn.destroy(),
    );
    if (tlsServer) tlsServer.emit("connection", socket);
    else sniff(conn);
  });
  // EMFILE on accept and the like: report, never crash (a failed listen rejects `listen` instead).
  front.on("error", (err) => {
    if (front.listening) onError(err);
  });

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        front.once("error", reject);
        front.listen(port, host, () => {
          front.off("error", reject);
          resolve(front.address() as net.AddressInfo);
        });
      });
    },
    connectionOf(req) {
      return "stream" in req
        ? bySession.get(req.stream.session as http2.ServerHttp2Session)
        : bySocket.get(req.socket);
    },
    get draining() {
      return draining;
    },
    get size() {
      return connections.size;
    },
    stats() {
      const open = { h1: 0, h2: 0, unknown: 0, refused: 0 };
      for (const conn of connections) open[conn.refused ? "refused" : conn.protocol]++;
      return { open, accepted, refused: refusedTotal };
    },
    drain() {
      if (draining) return;
      draining = true;
      front.close();
      for (const conn of connections) if (conn.protocol === "h2" || conn.active === 0) conn.close();
    },
    async closed(deadline) {
      if (!draining) this.drain();
      if (connections.size === 0) return;
      const timer = setTimeout(() => {
        for (const conn of connections) conn.destroy();
      }, deadline - Date.now());
      await new Promise<void>((resolve) => {
        whenEmpty = resolve;
      });
      clearTimeout(timer);
    },
  };
}
