import { readdirSync } from "node:fs";
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { GetJobRequestSchema, HealthCheckResponse_ServingStatus } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawConnection } from "./clients.js";
import { waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

// Every stage times out after 1 s here (defaults: 30 s for the request head, 60 s for the body, 5 s
// keep-alive, 300 s HTTP/2 idle), at most 30 connections are served at once, and a request message
// is at most 64 KiB.
const maxConnections = 30;
const maxRequestBytes = 64 * 1024;
let devnet: Devnet;
let bridge: BridgeProcess;
beforeAll(async () => {
  devnet = await startDevnet();
  bridge = await spawnBridge(devnet, {
    args: [
      "--header-timeout=1",
      "--request-timeout=1",
      "--keep-alive-timeout=1",
      "--idle-timeout=1",
      `--max-connections=${maxConnections}`,
      `--max-request-bytes=${maxRequestBytes}`,
    ],
  });
});
afterAll(async () => {
  await bridge?.dispose();
  await devnet?.close();
});

/** grpc.health.v1 Check over Connect JSON on HTTP/1.1, within `timeoutMs`. */
async function healthOverHttp1(timeoutMs = 1000): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${bridge.baseUrl}/grpc.health.v1.Health/Check`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const healthRequest = (port: number, extra = "") =>
  `POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n${extra}`;

function bridgeFds(): number {
  return readdirSync(`/proc/${bridge.child.pid}/fd`).length;
}

describe("protocol sniffing", () => {
  it("a client that sends 'P' or 'PR' and stops does not stall the others, and is closed at the header timeout", async () => {
    const p = await rawConnection(bridge.port);
    const pr = await rawConnection(bridge.port);
    await new Promise((resolve) => p.socket.write("P", resolve));
    await new Promise((resolve) => pr.socket.write("PR", resolve));
    let stalledUntilClosed = false;
    void Promise.race([p.closed, pr.closed]).then(() => {
      stalledUntilClosed = true;
    });
    // Health from another connection, answered while both are still open (they close at the 1 s
    // header timeout): a bridge stalled by them would answer only after. The client's own timeout is
    // generous, so a loaded machine does not fail the test by it.
    expect((await healthOverHttp1(5000)).body.status).toBe("SERVING");
    expect((await healthOverHttp1(5000)).body.status).toBe("SERVING");
    expect(stalledUntilClosed).toBe(false);
    expect(await p.closed).toBeGreaterThan(800);
    expect(await pr.closed).toBeLessThan(5000);
  });

  it("HTTP/1.1 written one byte at a time is still served", async () => {
    const raw = await rawConnection(bridge.port);
    const request = `${healthRequest(bridge.port, "content-length: 2\r\n")}\r\n{}`;
    for (const byte of request) await new Promise((resolve) => raw.socket.write(byte, resolve));
    await waitFor(() => raw.received().includes("SERVING"), { what: "the health answer" });
    expect(raw.received()).toMatch(/^HTTP\/1\.1 200/);
    raw.socket.destroy();
  });
});

describe("timeouts", () => {
  it("closes a connection that sends nothing", async () => {
    const raw = await rawConnection(bridge.port);
    const ms = await raw.closed;
    expect(ms).toBeGreaterThan(800);
    expect(ms).toBeLessThan(5000);
  });

  it("closes a connection that drips its request head, however active it is", async () => {
    const raw = await rawConnection(bridge.port);
    raw.socket.write(healthRequest(bridge.port));
    const drip = setInterval(() => raw.socket.write("x-drip: 1\r\n"), 100);
    try {
      const ms = await raw.closed;
      expect(ms).toBeGreaterThan(800);
      expect(ms).toBeLessThan(5000);
    } finally {
      clearInterval(drip);
    }
  });

  it("closes an HTTP/2 connection that sends the preface and no request", async () => {
    const raw = await rawConnection(bridge.port);
    raw.socket.write(Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"));
    raw.socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // empty SETTINGS frame
    const ms = await raw.closed;
    expect(ms).toBeGreaterThan(800);
    expect(ms).toBeLessThan(5000);
  });

  it("answers and closes a request whose body does not arrive in time", async () => {
    const raw = await rawConnection(bridge.port);
    raw.socket.write(`${healthRequest(bridge.port, "content-length: 100\r\n")}\r\n{`);
    const drip = setInterval(() => raw.socket.write(" "), 100);
    try {
      const ms = await raw.closed;
      expect(ms).toBeLessThan(5000);
      expect(raw.received()).toMatch(/^HTTP\/1\.1 504/);
      expect(raw.received()).toContain("deadline_exceeded");
    } finally {
      clearInterval(drip);
    }
  });

  it("closes an idle HTTP/1.1 keep-alive connection", async () => {
    const raw = await rawConnection(bridge.port);
    raw.socket.write(`${healthRequest(bridge.port, "content-length: 2\r\n")}\r\n{}`);
    await waitFor(() => raw.received().includes("SERVING"), { what: "the health answer" });
    const answered = performance.now();
    await raw.closed;
    expect(performance.now() - answered).toBeGreaterThan(800);
  });

  it("closes an idle HTTP/2 session with GOAWAY", async () => {
    const session = http2.connect(bridge.baseUrl);
    session.on("error", () => {});
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code) => resolve(code)));
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/json",
    });
    stream.end("{}");
    let body = "";
    stream.setEncoding("utf8").on("data", (s: string) => {
      body += s;
    });
    await new Promise((resolve) => stream.once("end", resolve));
    expect(body).toContain("SERVING");
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await new Promise((resolve) => session.once("close", resolve));
  });
});

describe("connection limit", () => {
  it("refuses connections over the limit clearly, never holds more file descriptors, and recovers", async () => {
    const baseline = bridgeFds();
    const silent = await Promise.all(
      Array.from({ length: maxConnections }, () => rawConnection(bridge.port)),
    );
    // One more, over HTTP/1.1: a 503 that says why.
    const refused = await healthOverHttp1(2000);
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe("unavailable");
    expect(refused.body.message).toMatch(/too many connections.*--max-connections/);
    // And over gRPC (HTTP/2): UNAVAILABLE with the same message.
    const err = await bridge
      .health()
      .check({ service: "" }, { timeoutMs: 2000 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).rawMessage).toMatch(/too many connections/);
    // A flood of further connections is dropped at once: descriptors stay bounded.
    const flood = await Promise.all(Array.from({ length: 300 }, () => rawConnection(bridge.port)));
    let peak = 0;
    await waitFor(
      () => {
        peak = Math.max(peak, bridgeFds());
        return flood.filter((f) => f.socket.readyState === "closed").length > 200;
      },
      { what: "the flood to be dropped" },
    );
    expect(peak).toBeLessThan(baseline + maxConnections + 80);
    // The silent connections time out; then every client is served again.
    await Promise.all(silent.map((s) => s.closed));
    for (const f of flood) f.socket.destroy();
    await waitFor(async () => (await healthOverHttp1(2000).catch(() => undefined))?.status === 200, {
      what: "health to be served again",
    });
    const res = await bridge.health().check({ service: "" });
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});

describe("file descriptors", () => {
  it("connections never use up the process's file descriptors: the limit fits ulimit -n", async () => {
    const limited = await spawnBridge(devnet, { fileDescriptorLimit: 400, args: ["--header-timeout=2"] });
    try {
      // Logged on stderr, which may arrive after stdout's "serving" line.
      await waitFor(
        () => limited.stderr().includes("--max-connections lowered to fit the file descriptor limit"),
        {
          what: "the warning that --max-connections was lowered",
        },
      );
      // 200 silent connections take every slot (400 - 256 kept for the store, providers and chain).
      const silent = await Promise.all(Array.from({ length: 200 }, () => rawConnection(limited.port)));
      const refused = await limited
        .health()
        .check({ service: "" }, { timeoutMs: 2000 })
        .catch((e: unknown) => e);
      expect((refused as ConnectError).rawMessage).toMatch(/too many connections/);
      // 400 more: dropped at once; the bridge never holds more descriptors than it may.
      const flood = await Promise.all(Array.from({ length: 400 }, () => rawConnection(limited.port)));
      expect(readdirSync(`/proc/${limited.child.pid}/fd`).length).toBeLessThan(400);
      // Once they time out, everything works again, the chain included.
      await Promise.all([...silent, ...flood].map((s) => s.closed));
      expect((await limited.compute().listServices({})).services.length).toBeGreaterThan(0);
      expect(limited.stderr()).not.toContain("EMFILE");
    } finally {
      await limited.dispose();
    }
  });
});

/** A GetJob over gRPC whose message is almost `maxRequestBytes` (an id far too long: INVALID_ARGUMENT). */
const largeGetJob = (() => {
  const message = toBinary(
    GetJobRequestSchema,
    create(GetJobRequestSchema, { jobId: "x".repeat(maxRequestBytes - 64) }),
  );
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
})();

/** `count` gRPC GetJobs with `largeGetJob` on one HTTP/2 session; `end: false` never ends their bodies. Their grpc-status. */
async function largeCalls(count: number, { end }: { end: boolean }): Promise<(string | undefined)[]> {
  const session = http2.connect(bridge.baseUrl);
  session.on("error", () => {});
  try {
    return await Promise.all(
      Array.from({ length: count }, () => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/chaoschain.zerog.v1.ComputeService/GetJob",
          "content-type": "application/grpc",
        });
        stream.on("error", () => {});
        if (end) stream.end(largeGetJob);
        else stream.write(largeGetJob);
        return new Promise<string | undefined>((resolve) => {
          let status: string | undefined;
          const onHeaders = (h: http2.IncomingHttpHeaders) => {
            status ??= h["grpc-status"] as string | undefined;
          };
          stream.on("response", onHeaders).on("trailers", onHeaders);
          stream.once("close", () => resolve(status));
          stream.resume();
        });
      }),
    );
  } finally {
    session.destroy();
  }
}

describe("request bodies held at once", () => {
  it("one HTTP/2 session of streams whose bodies never end holds at most 32 bodies: the others are RESOURCE_EXHAUSTED at once, and the room comes back", async () => {
    // 64 streams each send a whole message but never end it: 4 MiB held until the request timeout.
    const flood = await largeCalls(64, { end: false });
    expect(flood.filter((s) => s === String(Code.ResourceExhausted)).length).toBeGreaterThanOrEqual(32);
    expect(flood.filter((s) => s === String(Code.DeadlineExceeded)).length).toBeLessThanOrEqual(32);
    // Every byte held is given back: 32 whole messages at once are read and answered again.
    await waitFor(
      async () => (await largeCalls(32, { end: true })).every((s) => s === String(Code.InvalidArgument)),
      { what: "32 large calls at once to be read" },
    );
  });
});
