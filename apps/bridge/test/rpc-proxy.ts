import http from "node:http";
import type net from "node:net";

/** The chain RPC behind a switch (see {@link switchableRpc}). */
export interface SwitchableRpc {
  /** `http://127.0.0.1:<port><path>` */
  url: string;
  port: number;
  /** Connections refused (and open ones dropped) until `start()`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Every request answered with this HTTP status and body, until `failWith(undefined)`. */
  failWith(answer: { status: number; body: string } | undefined): void;
}

/** A request to the chain at `target` whose answer is piped to `res`: write (or pipe) the body to it. */
export function forward(
  target: string,
  method: string,
  headers: http.OutgoingHttpHeaders,
  res: http.ServerResponse,
): http.ClientRequest {
  const upstream = http.request(target, { method, headers }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  upstream.on("error", () => res.destroy());
  return upstream;
}

/**
 * An HTTP proxy on 127.0.0.1 (any path, as hosted RPCs take a key in it) to the devnet's chain at
 * `target`, that can be stopped and started again on the same port, or made to answer errors. With `basicAuth` ("user:password")
 * it answers 401 to a request without those credentials, as an RPC behind basic auth does.
 */
export async function switchableRpc(
  target: string,
  options: { path?: string; basicAuth?: string } = {},
): Promise<SwitchableRpc> {
  const expected = options.basicAuth && `Basic ${Buffer.from(options.basicAuth).toString("base64")}`;
  const sockets = new Set<net.Socket>();
  let failing: { status: number; body: string } | undefined;
  const server = http.createServer((req, res) => {
    if (failing !== undefined) {
      res.writeHead(failing.status, { "content-type": "application/json" }).end(failing.body);
      return;
    }
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="rpc"' }).end();
      return;
    }
    const { authorization: _, ...headers } = req.headers;
    req.pipe(forward(target, req.method ?? "POST", headers, res));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  let running = true;
  return {
    url: `http://127.0.0.1:${port}${options.path ?? "/"}`,
    port,
    async stop() {
      if (!running) return;
      running = false;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
    failWith(answer) {
      failing = answer;
    },
    async start() {
      if (running) return;
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      running = true;
    },
  };
}
