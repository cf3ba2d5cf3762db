import http2 from "node:http2";
import net from "node:net";
import { ComputeService, JobState } from "@chaoschain/zerog-core";
import { ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RenewableSessions } from "./renewable-sessions.js";

/**
 * A network that goes silent mid-call (a peer gone without a reset, a black-holing middlebox): a
 * bridge sends one event of a job, then the proxy in between forwards nothing more, either way.
 */
let bridge: http2.Http2Server;
let proxy: net.Server;
let port = 0;
const pairs: Array<[net.Socket, net.Socket]> = [];
beforeAll(async () => {
  bridge = http2.createServer(
    connectNodeAdapter({
      routes: (r) =>
        r.service(ComputeService, {
          async *watchJob(req, ctx) {
            yield { job: { jobId: req.jobId, state: JobState.RUNNING } };
            await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
          },
        }),
    }),
  );
  await new Promise<void>((resolve) => bridge.listen(0, "127.0.0.1", resolve));
  const bridgePort = (bridge.address() as net.AddressInfo).port;
  proxy = net.createServer((client) => {
    const upstream = net.connect(bridgePort, "127.0.0.1");
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  port = (proxy.address() as net.AddressInfo).port;
});
afterAll(async () => {
  for (const [a, b] of pairs) {
    a.destroy();
    b.destroy();
  }
  await new Promise((r) => proxy.close(r));
  await new Promise((r) => bridge.close(r));
});

function blackHole() {
  for (const [client, upstream] of pairs) {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  }
}

describe("RenewableSessions", () => {
  it("ends a stream on a connection gone silent (no PING answer) instead of waiting forever", async () => {
    const sessions = new RenewableSessions(`http://127.0.0.1:${port}`, {
      idleTimeoutMs: 15_000,
      pingIntervalMs: 200,
      pingTimeoutMs: 200,
    });
    const client = createClient(
      ComputeService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, sessionManager: sessions }),
    );
    const events: unknown[] = [];
    const watched = (async () => {
      for await (const e of client.watchJob({ jobId: "job_1" })) {
        events.push(e);
        blackHole();
      }
    })();
    const err = await watched.then(
      () => "ended",
      (e: unknown) => e,
    );
    expect(events).toHaveLength(1);
    expect(err).toBeInstanceOf(ConnectError);
    sessions.abort();
  }, 10_000);
});
