import net from "node:net";

/** A TCP proxy on 127.0.0.1 that a test can take down (refusing and dropping connections) and bring back. */
export interface TcpProxy {
  port: number;
  /** Down: stops listening and drops every open connection. Up: listens again on the same port. */
  setDown(down: boolean): Promise<void>;
  close(): Promise<void>;
}

/** Forwards connections on a free port of 127.0.0.1 to `target` (`http://host:port…` or a port). */
export async function startTcpProxy(target: string | number): Promise<TcpProxy> {
  const to = typeof target === "number" ? { hostname: "127.0.0.1", port: String(target) } : new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(to.port), to.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  let down = false;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return {
    port,
    async setDown(next) {
      if (next === down) return;
      down = next;
      await (next ? stop() : listen(port));
    },
    async close() {
      if (!down) await stop();
      down = true;
    },
  };
}
