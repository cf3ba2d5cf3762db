import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { ComputeService } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBridge } from "../src/bridge.js";
import { metricsRenderRate } from "../src/http/rpc-handler.js";
import { createBridgeMetrics } from "../src/metrics/bridge-metrics.js";
import { rawConnection, rejection } from "./clients.js";
import { controllableBackend } from "./fake-backend.js";
import {
  continuationFrame,
  dataFrame,
  errorCode,
  flags,
  frameType,
  headerBlock,
  headersFrame,
  type RawH2Connection,
  rawH2Connection,
  rstStreamFrame,
} from "./h2-frames.js";
import { task, waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

// Attacks on the bridge's one port, as an attacker writes them (raw HTTP/2 frames, raw HTTP/1.1), against
// the bridge run as deployed (its own process: its memory is the one measured).
const apiKey = "zk_attacks_0123456789abcdef0123";
let devnet: Devnet;
let bridge: BridgeProcess;
beforeAll(async () => {
  devnet = await startDevnet();
  bridge = await spawnBridge(devnet, { env: { ZEROG_API_KEY: apiKey }, args: ["--metrics=public"] });
});
afterAll(async () => {
  await bridge?.dispose();
  await devnet?.close();
});

/** The bridge process's resident memory, bytes. */
function bridgeRss(): number {
  const status = readFileSync(`/proc/${bridge.child.pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/** grpc.health.v1 Check over Connect JSON on HTTP/1.1 (a connection of its own); its status or the failure. */
async function health(timeoutMs: number): Promise<string> {
  try {
    const res = await fetch(`${bridge.baseUrl}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json", connection: "close" },
      body: "{}",
      signal: AbortSignal.timeout(timeoutMs),
    });
    return String(((await res.json()) as { status?: string }).status);
  } catch (err) {
    return String(err);
  }
}

const requestHeaders = (path: string, extra: Record<string, string> = {}) =>
  headerBlock({
    ":method": "POST",
    ":scheme": "http",
    ":path": path,
    ":authority": `127.0.0.1:${bridge.port}`,
    "content-type": "application/grpc",
    te: "trailers",
    ...extra,
  });

/**
 * Writes `batch()` until the bridge sends GOAWAY or closes the connection, or `maxBatches` were written;
 * a write the bridge does not read is given up after a while (the bridge stopped reading).
 */
async function flood(conn: RawH2Connection, batch: () => Buffer, maxBatches: number): Promise<number> {
  let written = 0;
  while (written < maxBatches && !conn.isClosed && conn.goaway() === undefined) {
    const stalled = new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000).unref());
    if (!(await Promise.race([conn.write(batch()), stalled]))) break;
    written++;
  }
  return written;
}

/** The last stream id a GOAWAY names: the highest stream the bridge processed. */
const lastStreamId = (conn: RawH2Connection) =>
  conn
    .frames()
    .find((f) => f.type === frameType.goaway)!
    .payload.readUInt32BE(0) & 0x7fffffff;

describe("HTTP/2 rapid reset (CVE-2023-44487)", () => {
  /** Opens streams and resets each at once, 100 per write, until the bridge stops it. */
  async function rapidReset(maxStreams: number) {
    const conn = await rawH2Connection(bridge.port);
    const headers = requestHeaders("/grpc.health.v1.Health/Check");
    let nextId = 1;
    const batch = () => {
      const frames: Buffer[] = [];
      for (let i = 0; i < 100; i++, nextId += 2)
        frames.push(headersFrame(nextId, headers, flags.endHeaders), rstStreamFrame(nextId));
      return Buffer.concat(frames);
    };
    const batches = await flood(conn, batch, maxStreams / 100);
    // The bridge ends it: GOAWAY, then the close (a client that keeps the socket open is cut off).
    await Promise.race([conn.closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    conn.socket.destroy();
    return { conn, streamsSent: batches * 100 };
  }

  it("closes the connection with GOAWAY ENHANCE_YOUR_CALM after a bounded number of resets, and serves others meanwhile", async () => {
    const [attack, healthDuring] = await Promise.all([
      rapidReset(200_000),
      (async () => {
        // Another client, while the attack runs: answered (generous bound; the outcome is what counts).
        await new Promise((resolve) => setTimeout(resolve, 50));
        return health(10_000);
      })(),
    ]);
    expect(healthDuring).toBe("SERVING");
    expect(attack.conn.goaway()).toBe(errorCode.enhanceYourCalm);
    expect(attack.conn.isClosed).toBe(true);
    // The GOAWAY names the last stream processed: a bounded number (below the 1000 streams at which
    // nghttp2 would send its own GOAWAY and leave the connection open), far fewer than were sent.
    expect(lastStreamId(attack.conn)).toBeLessThan(2 * 1000);
    expect(attack.streamsSent).toBeLessThan(200_000);
  });

  it("many abusive connections one after another leave memory bounded and the bridge serving", async () => {
    const before = bridgeRss();
    for (let i = 0; i < 10; i++) {
      const attack = await rapidReset(20_000);
      expect(attack.conn.isClosed).toBe(true);
      expect(attack.conn.goaway()).toBe(errorCode.enhanceYourCalm);
    }
    expect(await health(10_000)).toBe("SERVING");
    expect(bridgeRss() - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("a client that cancels a few calls now and then is not cut off", async () => {
    const conn = await rawH2Connection(bridge.port);
    const headers = requestHeaders("/grpc.health.v1.Health/Check");
    for (let id = 1; id <= 2 * 50; id += 2)
      await conn.write(Buffer.concat([headersFrame(id, headers, flags.endHeaders), rstStreamFrame(id)]));
    // A call after the cancellations is answered on the same connection.
    await conn.write(headersFrame(101, headers, flags.endHeaders));
    await conn.write(dataFrame(101, Buffer.from([0, 0, 0, 0, 0]), flags.endStream));
    await waitFor(() => conn.frames().some((f) => f.streamId === 101 && f.flags & flags.endStream), {
      what: "the answer on stream 101",
    });
    expect(conn.goaway()).toBeUndefined();
    expect(conn.isClosed).toBe(false);
    conn.socket.destroy();
  });
});

describe("HTTP/2 CONTINUATION flood", () => {
  it("closes a connection whose request head never ends, with bounded memory", async () => {
    // nghttp2 1.61 (Node 20.12.1 and later) bounds CONTINUATION frames; this pins that Node.
    const [major, minor] = process.versions.nghttp2!.split(".").map(Number);
    expect(major! * 1000 + minor!).toBeGreaterThanOrEqual(1061);
    const before = bridgeRss();
    for (let i = 0; i < 10; i++) {
      const conn = await rawH2Connection(bridge.port);
      // HEADERS without END_HEADERS, then CONTINUATION frames of 1 KB header fields, never the last one.
      await conn.write(headersFrame(1, requestHeaders("/grpc.health.v1.Health/Check"), 0));
      const more = headerBlock({ "x-more": "m".repeat(1000) });
      const written = await flood(
        conn,
        () => Buffer.concat(Array.from({ length: 16 }, () => continuationFrame(1, more))),
        10_000,
      );
      await Promise.race([conn.closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      // nghttp2 answers GOAWAY and Node closes at once: the GOAWAY may be lost in the reset; the close is not.
      expect(conn.isClosed).toBe(true);
      // Closed long before the flood ran out (160 MB of header fields).
      expect(written).toBeLessThan(10_000);
      conn.socket.destroy();
    }
    expect(await health(10_000)).toBe("SERVING");
    expect(bridgeRss() - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe("Expect: 100-continue", () => {
  const listJobs = "/chaoschain.zerog.v1.ComputeService/ListJobs";

  /** A request head with Expect: 100-continue over HTTP/1.1, its body held back; what arrives first. */
  async function expectContinueHttp1(authorization?: string) {
    const raw = await rawConnection(bridge.port);
    raw.socket.write(
      `POST ${listJobs} HTTP/1.1\r\nHost: 127.0.0.1:${bridge.port}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nexpect: 100-continue\r\n${
        authorization ? `authorization: ${authorization}\r\n` : ""
      }\r\n`,
    );
    await waitFor(() => raw.received().includes("\r\n\r\n"), { what: "a first answer" });
    return raw;
  }

  it("HTTP/1.1 without a key, or with a wrong one: 401 unauthenticated, no 100 Continue, the body never read", async () => {
    for (const authorization of [undefined, "Bearer zk_wrong_0123456789abcdef0123456"]) {
      const raw = await expectContinueHttp1(authorization);
      await raw.closed;
      expect(raw.received()).toMatch(/^HTTP\/1\.1 401 /);
      expect(raw.received()).not.toContain("100 Continue");
      expect(raw.received()).toContain('"code":"unauthenticated"');
    }
  });

  it("HTTP/1.1 with the key: 100 Continue, then the call is answered", async () => {
    const raw = await expectContinueHttp1(`Bearer ${apiKey}`);
    expect(raw.received()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
    raw.socket.write("{}");
    await waitFor(() => /HTTP\/1\.1 200 [\s\S]*\r\n\r\n\{/.test(raw.received()), { what: "the answer" });
    raw.socket.destroy();
  });

  /** A gRPC ListJobs over HTTP/2 with Expect: 100-continue; the body is sent only after 100. */
  async function expectContinueHttp2(authorization?: string) {
    const session = http2.connect(bridge.baseUrl);
    session.on("error", () => {});
    const stream = session.request({
      ":method": "POST",
      ":path": listJobs,
      "content-type": "application/grpc",
      te: "trailers",
      expect: "100-continue",
      ...(authorization ? { authorization } : {}),
    });
    let continued = false;
    stream.on("continue", () => {
      continued = true;
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    const headers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => Object.assign(headers, h));
    stream.on("trailers", (h) => Object.assign(headers, h));
    stream.resume();
    await new Promise((resolve) => stream.once("close", resolve));
    session.close();
    return { continued, headers };
  }

  it("HTTP/2 without a key: UNAUTHENTICATED in gRPC's form, no 100, the body never read", async () => {
    const { continued, headers } = await expectContinueHttp2();
    expect(continued).toBe(false);
    expect(headers["grpc-status"]).toBe("16");
  });

  it("HTTP/2 with the key: 100, then the call is answered", async () => {
    const { continued, headers } = await expectContinueHttp2(`Bearer ${apiKey}`);
    expect(continued).toBe(true);
    expect(headers["grpc-status"]).toBe("0");
  });
});

describe("calls refused over HTTP/1.1 before their body is read", () => {
  // Refused without reading the body (it costs nothing whatever the body), yet a client still writing
  // it gets the refusal, not EPIPE / ECONNRESET: the rest of the body is read and discarded, bounded.
  const refusedCalls = async (bodyBytes: number, calls: number) => {
    const codes: Record<string, number> = {};
    for (const protocol of ["connect", "grpc-web"] as const) {
      const make = protocol === "connect" ? createConnectTransport : createGrpcWebTransport;
      const client = createClient(ComputeService, make({ baseUrl: bridge.baseUrl, httpVersion: "1.1" }));
      for (let i = 0; i < calls; i++) {
        const e = await rejection(
          client.submit({ task: task({ inputs: { prompt: "x".repeat(bodyBytes) } }) }),
        );
        const name = `${protocol} ${Code[e.code]}${e.code === Code.Internal ? ` ${e.rawMessage}` : ""}`;
        codes[name] = (codes[name] ?? 0) + 1;
      }
    }
    return codes;
  };

  it("a Connect or gRPC-web client sending a body of 8 KB without a key gets UNAUTHENTICATED, 200 times out of 200", async () => {
    expect(await refusedCalls(8 * 1024, 200)).toEqual({
      "connect Unauthenticated": 200,
      "grpc-web Unauthenticated": 200,
    });
  });

  it("so does one sending a body larger than what is discarded (200 KB)", async () => {
    expect(await refusedCalls(200 * 1024, 50)).toEqual({
      "connect Unauthenticated": 50,
      "grpc-web Unauthenticated": 50,
    });
  });

  it("a client sending an endless body gets its answer, and is cut off within the discard's time bound", async () => {
    const raw = await rawConnection(bridge.port);
    raw.socket.write(
      `POST /chaoschain.zerog.v1.ComputeService/ListJobs HTTP/1.1\r\nHost: 127.0.0.1:${bridge.port}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`,
    );
    const chunk = `${(64 * 1024).toString(16)}\r\n${"x".repeat(64 * 1024)}\r\n`;
    let written = 0;
    const writing = (async () => {
      while (!raw.socket.destroyed && written < 256 * 1024 * 1024) {
        if (!raw.socket.write(chunk))
          await new Promise((resolve) => raw.socket.once("drain", resolve).once("close", resolve));
        written += chunk.length;
      }
    })();
    const ms = await raw.closed;
    await writing;
    expect(raw.received()).toMatch(/^HTTP\/1\.1 401 [\s\S]*"code":"unauthenticated"/);
    expect(raw.received().toLowerCase()).toContain("connection: close");
    expect(ms).toBeLessThan(10_000);
    expect(written).toBeLessThan(64 * 1024 * 1024);
  });
});

describe("GET /metrics flood (--metrics public)", () => {
  it("a burst of scrapes renders the metrics a bounded number of times, and fresh data follows", async () => {
    // A bridge in this process (its renders are counted) over a fake backend.
    const metrics = createBridgeMetrics();
    let renders = 0;
    metrics.registry.collect(() => {
      renders++;
    });
    const open = createBridge({
      backend: controllableBackend().backend,
      logger: pino({ level: "silent" }),
      dbPath: ":memory:",
      metrics,
      metricsAccess: "public",
    });
    try {
      const { port } = await open.listen("127.0.0.1", 0);
      const scrape = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        expect(res.status).toBe(200);
        return res.text();
      };
      const started = performance.now();
      const texts = await Promise.all(Array.from({ length: 200 }, scrape));
      const seconds = (performance.now() - started) / 1000;
      for (const text of texts) expect(text).toContain("# TYPE zerog_jobs_deleted_total counter");
      // The rate's burst, and its rate for as long as the burst took (the machine may be slow); not one per scrape.
      expect(renders).toBeLessThanOrEqual(
        metricsRenderRate.burst + Math.ceil(seconds * metricsRenderRate.perSecond),
      );
      expect(renders).toBeLessThan(50);

      metrics.jobsDeleted.inc({});
      const before = renders;
      await waitFor(async () => (await scrape()).includes("zerog_jobs_deleted_total 1"), {
        what: "the new value in /metrics",
      });
      expect(renders - before).toBeLessThanOrEqual(metricsRenderRate.burst);
    } finally {
      await open.close({ graceMs: 100 });
    }
  });
});
