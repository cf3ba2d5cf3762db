import type http2 from "node:http2";
import { type GrpcTransportOptions, Http2SessionManager } from "@connectrpc/connect-node";

type NodeHttp2ClientSessionManager = NonNullable<GrpcTransportOptions["sessionManager"]>;

/**
 * connect-node's session manager, with every HTTP/2 session it opens kept from crashing the
 * process: after a protocol error, node can emit a second 'error' on a session whose listeners
 * connect-node has already removed (e.g. when `close()` follows the failure).
 */
class GuardedSessionManager extends Http2SessionManager {
  readonly #guarded = new WeakSet<http2.Http2Session>();

  override async request(
    ...args: Parameters<Http2SessionManager["request"]>
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session;
    if (session && !this.#guarded.has(session)) {
      this.#guarded.add(session);
      // The failure reaches the calls through their streams; this only keeps it from being uncaught.
      session.on("error", () => {});
    }
    return stream;
  }
}

/**
 * One HTTP/2 connection for every call, which `renew()` replaces with a fresh one for the calls that
 * follow while the calls in progress finish on the old one (closed once idle), and `abort()` drops
 * with everything on it.
 */
export class RenewableSessions implements NodeHttp2ClientSessionManager {
  readonly authority: string;
  readonly #make: () => Http2SessionManager;
  #current: Http2SessionManager;
  readonly #retired = new Set<Http2SessionManager>();

  constructor(
    baseUrl: string,
    options: {
      idleTimeoutMs: number;
      /**
       * While a call is open and nothing arrives for this long, a PING checks the connection; one
       * unanswered within `pingTimeoutMs` closes it, failing its calls (a watch() would otherwise wait
       * forever on a network gone silent).
       */
      pingIntervalMs: number;
      pingTimeoutMs: number;
      session?: http2.SecureClientSessionOptions;
    },
  ) {
    const { idleTimeoutMs, pingIntervalMs, pingTimeoutMs } = options;
    this.#make = () =>
      new GuardedSessionManager(
        baseUrl,
        { idleConnectionTimeoutMs: idleTimeoutMs, pingIntervalMs, pingTimeoutMs },
        options.session,
      );
    this.#current = this.#make();
    this.authority = this.#current.authority;
  }

  request(...args: Parameters<NodeHttp2ClientSessionManager["request"]>): Promise<http2.ClientHttp2Stream> {
    return this.#current.request(...args);
  }

  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    this.#current.notifyResponseByteRead(stream);
    for (const old of this.#retired) old.notifyResponseByteRead(stream);
  }

  /** New calls go on a new connection; the old one closes once its calls have ended. */
  renew(): void {
    for (const old of this.#retired)
      if (old.state() === "closed" || old.state() === "error") this.#retired.delete(old);
    this.#retired.add(this.#current);
    this.#current = this.#make();
  }

  /** Closes every connection, failing the calls on them. */
  abort(): void {
    this.#current.abort();
    for (const old of this.#retired) old.abort();
    this.#retired.clear();
  }
}
