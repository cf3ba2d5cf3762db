// Unary calls answered by createUnaryCall against connect's own handlers: for each protocol, the same
// request to the same service gets the same status, headers, body and trailers from both.
import { getEventListeners, setMaxListeners } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  ComputeService,
  GetJobRequestSchema,
  Health,
  HealthCheckRequestSchema,
  JobSchema,
  JobState,
  RetryInfoSchema,
  SubmitRequestSchema,
  SubmitResponseSchema,
  TaskType,
} from "@chaoschain/zerog-core";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCallGate } from "../auth/call-gate.js";
import { createHealthService, HealthState } from "../health.js";
import { RateLimiter } from "../limits/rate-limiter.js";
import { rememberEncoding } from "../wire/known-encodings.js";
import type { ConnectionFront } from "./connections.js";
import { maxDeadlineMs } from "./deadline.js";
import { createRpcHandler } from "./rpc-handler.js";

// NOT_SERVING, with a reason the health service writes in a response header.
const health = new HealthState();
health.setProblem("store", "disk full: caf\u00e9\nnext line");
const routes = (router: ConnectRouter) =>
  router.service(Health, createHealthService(health)).service(ComputeService, {
    submit(req, ctx) {
      ctx.responseHeader.set("x-handler", "submit");
      ctx.responseTrailer.set("x-trailer", "done");
      if (req.task?.model === "refuse")
        throw new ConnectError("refused: try later", Code.ResourceExhausted, { "x-why": "busy" }, [
          { desc: RetryInfoSchema, value: { retryDelay: { seconds: 3n, nanos: 0 } } },
        ]);
      if (req.task?.model === "crash") throw new Error("a bug");
      // Big enough to be compressed when the client accepts it.
      return create(SubmitResponseSchema, { jobId: `job-${req.task?.model}`.padEnd(2000, "x") });
    },
    async getResult(_req, ctx) {
      started?.();
      // Waits until the call's deadline (or the client leaves).
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      aborted.push(String(ctx.signal.reason));
      throw ConnectError.from(ctx.signal.reason);
    },
    getJob(req, ctx) {
      // What the service sees of the call, for the interceptor's record.
      ctx.responseHeader.set(
        "x-seen",
        `${ctx.protocolName} ${ctx.requestMethod} ${ctx.timeoutMs() !== undefined} ${ctx.url}`,
      );
      switch (req.jobId) {
        case "cookies":
          ctx.responseHeader.append("set-cookie", "a=1");
          ctx.responseHeader.append("set-cookie", "b=2");
          ctx.responseHeader.append("x-many", "1");
          ctx.responseHeader.append("x-many", "2");
          break;
        case "latin1":
          ctx.responseHeader.set("x-latin1", "caf\u00e9");
          break;
        case "throw-string":
          throw "a string";
        case "throw-null":
          throw null;
        case "throw-undefined":
          throw undefined;
        case "wrong-type":
          return create(SubmitResponseSchema, { jobId: "not a job" }) as never;
        case "wrong-type-remembered":
          return rememberEncoding(create(SubmitResponseSchema, { jobId: "not a job" }), remembered) as never;
        case "remembered":
          return rememberEncoding(
            create(JobSchema, { jobId: "remembered", progress: 0.5, message: rememberedMessage }),
            remembered,
          );
      }
      return { jobId: req.jobId, state: JobState.RUNNING, progress: 0.5 };
    },
  });
// The encoding remembered for the job "remembered": its fields in reverse order, so not connect's; big
// enough to be compressed.
const rememberedMessage = "m".repeat(3000);
const remembered = Buffer.concat([
  toBinary(JobSchema, create(JobSchema, { progress: 0.5, message: rememberedMessage })),
  toBinary(JobSchema, create(JobSchema, { jobId: "remembered" })),
]);
const aborted: string[] = [];
let started: (() => void) | undefined;
// Our server and connect's listen on different ports.
const withoutPort = (text: string) => text.replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:PORT");
// An interceptor that sees each call and adds a header, as the bridge's logging and metrics ones do.
const seen: string[] = [];
const interceptors: Interceptor[] = [
  (next) => async (req) => {
    const call = JSON.stringify([
      req.method.name,
      req.requestMethod,
      req.url,
      [...req.header],
      req.signal.aborted,
    ]);
    seen.push(withoutPort(call));
    if (req.header.get("x-interceptor") === "before") throw new ConnectError("no", Code.PermissionDenied);
    const res = await next(req);
    if (req.header.get("x-interceptor") === "after") throw new Error("after");
    res.header.set("x-intercepted", "yes");
    return res;
  },
];

const shutdownSignal = new AbortController().signal;
// As the bridge does: every call in progress listens to it.
setMaxListeners(0, shutdownSignal);
const front = { connectionOf: () => undefined, draining: false } as unknown as ConnectionFront;
const ours = createRpcHandler({
  routes,
  interceptors,
  shutdownSignal,
  front,
  readMaxBytes: 1 << 20,
  requestTimeoutMs: 5000,
  corsOrigins: [],
  gate: createCallGate({ keys: undefined, defaults: {}, limiter: new RateLimiter() }),
  checkHost: () => undefined,
  onError: (err) => failures.push(err),
});
const failures: unknown[] = [];
const theirs = connectNodeAdapter({
  routes,
  interceptors,
  acceptCompression: [compressionGzip, compressionBrotli],
  jsonOptions: { ignoreUnknownFields: false },
  maxTimeoutMs: maxDeadlineMs,
  readMaxBytes: 1 << 20,
  shutdownSignal,
});

const servers: (http.Server | http2.Http2Server)[] = [];
async function listen(server: http.Server | http2.Http2Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}
const ports = { ours: { h1: 0, h2: 0 }, theirs: { h1: 0, h2: 0 } };
beforeAll(async () => {
  ports.ours.h1 = await listen(http.createServer(ours));
  ports.ours.h2 = await listen(http2.createServer(ours));
  ports.theirs.h1 = await listen(http.createServer(theirs));
  ports.theirs.h2 = await listen(http2.createServer(theirs));
});
afterAll(() => {
  for (const s of servers) s.close();
});

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  trailers: Record<string, string>;
}
const ignored = new Set(["date", "connection", "keep-alive", "transfer-encoding"]);
function kept(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    if (!k.startsWith(":") && !ignored.has(k) && v !== undefined) out[k] = withoutPort(String(v));
  return out;
}

function h2Call(port: number, path: string, headers: Record<string, string>, body: Uint8Array) {
  return new Promise<Answer>((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, ...headers });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => {
      head = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      session.close();
      resolve({
        status: Number(head[":status"]),
        headers: kept(head),
        body: Buffer.concat(chunks),
        trailers: kept(trailers),
      });
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

function h1Call(port: number, path: string, headers: Record<string, string>, body: Uint8Array) {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: kept(res.headers),
          body: Buffer.concat(chunks),
          trailers: kept(res.trailers),
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

const envelope = (bytes: Uint8Array, flags = 0) => {
  const out = Buffer.alloc(5 + bytes.length);
  out[0] = flags;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
};
const submit = (model: string) =>
  create(SubmitRequestSchema, { task: { taskType: TaskType.INFERENCE, model, inputs: { prompt: "hi" } } });
const submitPath = "/chaoschain.zerog.v1.ComputeService/Submit";
const resultPath = "/chaoschain.zerog.v1.ComputeService/GetResult";
const jobPath = "/chaoschain.zerog.v1.ComputeService/GetJob";

type Case = {
  name: string;
  http: "h1" | "h2";
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
};
const cases: Case[] = [];
for (const model of ["llama", "refuse", "crash"]) {
  const bin = toBinary(SubmitRequestSchema, submit(model));
  const json = Buffer.from(toJsonString(SubmitRequestSchema, submit(model)));
  for (const accept of [undefined, "gzip"]) {
    const tag = `${model}${accept ? ", gzip accepted" : ""}`;
    const grpcAccept: Record<string, string> = accept ? { "grpc-accept-encoding": accept } : {};
    cases.push(
      {
        name: `gRPC ${tag}`,
        http: "h2",
        path: submitPath,
        headers: { "content-type": "application/grpc", te: "trailers", "x-client": "a", ...grpcAccept },
        body: envelope(bin),
      },
      {
        name: `gRPC-web ${tag}`,
        http: "h1",
        path: submitPath,
        headers: { "content-type": "application/grpc-web+proto", "x-client": "b", ...grpcAccept },
        body: envelope(bin),
      },
      {
        name: `gRPC-web over HTTP/2 ${tag}`,
        http: "h2",
        path: submitPath,
        headers: { "content-type": "application/grpc-web+proto", ...grpcAccept },
        body: envelope(bin),
      },
      {
        name: `Connect proto ${tag}`,
        http: "h1",
        path: submitPath,
        headers: { "content-type": "application/proto", ...(accept ? { "accept-encoding": accept } : {}) },
        body: bin,
      },
      {
        name: `Connect JSON ${tag}`,
        http: "h1",
        path: submitPath,
        headers: {
          "content-type": "application/json",
          "x-client": "c",
          ...(accept ? { "accept-encoding": accept } : {}),
        },
        body: json,
      },
    );
  }
}
const gzipped = gzipSync(toBinary(GetJobRequestSchema, create(GetJobRequestSchema, { jobId: "j1" })));
cases.push(
  {
    name: "gRPC, its message gzipped",
    http: "h2",
    path: jobPath,
    headers: { "content-type": "application/grpc+proto", "grpc-encoding": "gzip", te: "trailers" },
    body: envelope(gzipped, 1),
  },
  {
    name: "Connect proto, its body gzipped",
    http: "h1",
    path: jobPath,
    headers: { "content-type": "application/proto", "content-encoding": "gzip" },
    body: gzipped,
  },
  {
    name: "Connect JSON with a timeout",
    http: "h1",
    path: jobPath,
    headers: { "content-type": "application/json", "connect-timeout-ms": "5000" },
    body: Buffer.from('{"jobId":"j2"}'),
  },
  {
    name: "gRPC, past its deadline",
    http: "h2",
    path: resultPath,
    headers: { "content-type": "application/grpc", "grpc-timeout": "50m" },
    body: envelope(new Uint8Array(0)),
  },
  {
    name: "Connect, past its deadline",
    http: "h1",
    path: resultPath,
    headers: { "content-type": "application/json", "connect-timeout-ms": "50" },
    body: Buffer.from("{}"),
  },
  // Content types connect does not take for a unary call: answered as connect answers them, not here.
  ...[
    "application/foo+json",
    "application/connect+json",
    "application/connect+proto",
    "application/json; charset=latin1",
    "application/grpc-web+json",
    "application/grpc+json",
    "application/proto; x=1",
  ].map(
    (type): Case => ({
      name: `content type ${type}`,
      http: "h1",
      path: jobPath,
      headers: { "content-type": type },
      body: ((json) => (/grpc|connect\+/.test(type) ? envelope(json) : json))(
        type.includes("json")
          ? Buffer.from('{"jobId":"j5"}')
          : toBinary(GetJobRequestSchema, create(GetJobRequestSchema, { jobId: "j5" })),
      ),
    }),
  ),
  {
    name: "Connect JSON in a compression the bridge does not take",
    http: "h1",
    path: jobPath,
    headers: { "content-type": "application/json", "content-encoding": "zstd" },
    body: Buffer.from('{"jobId":"j7"}'),
  },
  {
    name: "Connect JSON, its charset named",
    http: "h1",
    path: jobPath,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: Buffer.from('{"jobId":"j6"}'),
  },
  {
    name: "gRPC with a timeout",
    http: "h2",
    path: jobPath,
    headers: { "content-type": "application/grpc", "grpc-timeout": "5S" },
    body: envelope(toBinary(GetJobRequestSchema, create(GetJobRequestSchema, { jobId: "j3" }))),
  },
);

// Inputs an attacker (or an odd client) sends, in each protocol, to GetJob.
const jobMessage = (jobId: string) => toBinary(GetJobRequestSchema, create(GetJobRequestSchema, { jobId }));
const protocols: {
  name: string;
  http: "h1" | "h2";
  headers: Record<string, string>;
  body(id: string): Uint8Array;
}[] = [
  {
    name: "gRPC",
    http: "h2",
    headers: { "content-type": "application/grpc", te: "trailers" },
    body: (id) => envelope(jobMessage(id)),
  },
  {
    name: "gRPC over HTTP/1.1",
    http: "h1",
    headers: { "content-type": "application/grpc+proto" },
    body: (id) => envelope(jobMessage(id)),
  },
  {
    name: "gRPC-web",
    http: "h1",
    headers: { "content-type": "application/grpc-web" },
    body: (id) => envelope(jobMessage(id)),
  },
  { name: "Connect proto", http: "h1", headers: { "content-type": "application/proto" }, body: jobMessage },
  {
    name: "Connect JSON",
    http: "h2",
    headers: { "content-type": "application/json" },
    body: (id) => Buffer.from(JSON.stringify({ jobId: id })),
  },
];
const probes: {
  name: string;
  jobId?: string | ((json: boolean) => string);
  headers?: (own: Record<string, string>) => Record<string, string>;
}[] = [
  { name: "two set-cookie and two x-many response headers", jobId: "cookies" },
  { name: "a latin-1 response header", jobId: "latin1" },
  { name: "a service that throws a string", jobId: "throw-string" },
  { name: "a service that throws null", jobId: "throw-null" },
  { name: "an empty message", jobId: "" },
  // 1 MiB, the limit both servers have: the binary message, or the JSON body.
  { name: "a message of exactly the size limit", jobId: (json) => "x".repeat((1 << 20) - (json ? 12 : 4)) },
  {
    name: "a big answer, br accepted",
    jobId: "y".repeat(5000),
    headers: () => ({ "grpc-accept-encoding": "br", "accept-encoding": "br" }),
  },
  { name: "a service that returns another message type", jobId: "wrong-type" },
  {
    name: "a service that returns another message type, its encoding remembered",
    jobId: "wrong-type-remembered",
  },
  { name: "an interceptor that throws before next", headers: () => ({ "x-interceptor": "before" }) },
  { name: "an interceptor that throws after next", headers: () => ({ "x-interceptor": "after" }) },
  {
    name: "upper-case content type",
    headers: (own) => ({ "content-type": own["content-type"]!.toUpperCase() }),
  },
  { name: "a malformed timeout", headers: () => ({ "grpc-timeout": "1x", "connect-timeout-ms": "-1" }) },
  { name: "a zero timeout", headers: () => ({ "grpc-timeout": "0n", "connect-timeout-ms": "0" }) },
  {
    name: "accept-encoding with q-values",
    headers: () => ({ "grpc-accept-encoding": "br;q=0.5, gzip", "accept-encoding": "gzip;q=1, br" }),
  },
  {
    name: "accept-encoding unknown then br",
    headers: () => ({ "grpc-accept-encoding": "zstd, br", "accept-encoding": "zstd, br" }),
  },
  {
    name: "accept-encoding identity",
    headers: () => ({ "grpc-accept-encoding": "identity", "accept-encoding": "identity" }),
  },
  {
    name: "encoding identity",
    headers: () => ({ "grpc-encoding": "identity", "content-encoding": "identity" }),
  },
  {
    name: "encoding GZIP upper-case",
    headers: () => ({ "grpc-encoding": "GZIP", "content-encoding": "GZIP" }),
  },
  { name: "encoding zstd", headers: () => ({ "grpc-encoding": "zstd" }) },
  { name: "a query string and odd host", headers: () => ({ host: "LOCALHOST:80" }) },
  {
    name: "many headers",
    headers: () => Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-h${i}`, `v${i}`])),
  },
  {
    name: "encoding gzip, the message plain",
    headers: () => ({ "grpc-encoding": "gzip", "content-encoding": "gzip" }),
  },
];
for (const p of protocols)
  for (const probe of probes)
    cases.push({
      name: `${p.name}: ${probe.name}`,
      http: p.http,
      path: probe.name.startsWith("a query") ? `${jobPath}?a='b'&c=%zz` : jobPath,
      headers: { ...p.headers, ...probe.headers?.(p.headers) },
      body: p.body(
        typeof probe.jobId === "function" ? probe.jobId(p.name.includes("JSON")) : (probe.jobId ?? "j9"),
      ),
    });

const healthPath = "/grpc.health.v1.Health/Check";
for (const p of protocols)
  for (const service of ["", "nope"])
    cases.push({
      name: `${p.name}: a health check, not serving${service ? ", an unknown service" : ""}`,
      http: p.http,
      path: healthPath,
      headers: p.headers,
      body: p.name.includes("JSON")
        ? Buffer.from(JSON.stringify({ service }))
        : ((m) => (p.name.startsWith("Connect") ? m : envelope(m)))(
            toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })),
          ),
    });

describe("a unary call answered without connect's pipeline is answered as connect answers it", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const call = c.http === "h1" ? h1Call : h2Call;
      seen.length = 0;
      const a = await call(ports.ours[c.http], c.path, c.headers, c.body);
      const fromOurs = [...seen];
      seen.length = 0;
      const b = await call(ports.theirs[c.http], c.path, c.headers, c.body);
      // Equal bodies are compared at once (a deep compare of a 1 MiB one takes seconds).
      if (a.body.equals(b.body)) expect({ ...a, body: 0 }).toEqual({ ...b, body: 0 });
      else expect(a).toEqual(b);
      // The interceptors saw the same call (headers as connect shows them to the service).
      expect(fromOurs).toEqual(seen);
    });
  }

  it("the calls above left no listener on the shutdown signal", () => {
    expect(getEventListeners(shutdownSignal, "abort")).toHaveLength(0);
  });

  it("the answers checked above carry what each case is about", async () => {
    const grpc = await h2Call(ports.ours.h2, submitPath, cases[1 - 1]!.headers, cases[0]!.body);
    expect(grpc.trailers).toMatchObject({ "grpc-status": "0", "x-trailer": "done" });
    expect(grpc.headers).toMatchObject({ "x-handler": "submit", "x-intercepted": "yes" });
    const refused = await h1Call(
      ports.ours.h1,
      submitPath,
      { "content-type": "application/json" },
      Buffer.from(toJsonString(SubmitRequestSchema, submit("refuse"))),
    );
    expect(refused.status).toBe(429);
    expect(refused.headers["x-why"]).toBe("busy");
    const zipped = await h1Call(
      ports.ours.h1,
      submitPath,
      { "content-type": "application/proto", "accept-encoding": "gzip" },
      toBinary(SubmitRequestSchema, submit("llama")),
    );
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(fromBinary(SubmitResponseSchema, gunzipSync(zipped.body)).jobId).toMatch(/^job-llama/);
    const late = await h2Call(
      ports.ours.h2,
      resultPath,
      { "content-type": "application/grpc", "grpc-timeout": "50m" },
      envelope(new Uint8Array(0)),
    );
    expect(late.trailers["grpc-status"]).toBe(String(Code.DeadlineExceeded));
  });

  it("a client that leaves ends its call: the service sees its signal abort as in connect's, nothing is written", async () => {
    const reasons = async (server: { h1: number; h2: number }) => {
      const out: string[] = [];
      for (const how of ["h1", http2.constants.NGHTTP2_CANCEL, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM]) {
        aborted.length = 0;
        const running = new Promise<void>((resolve) => {
          started = resolve;
        });
        let leave: () => void;
        if (typeof how === "string") {
          const req = http.request({ host: "127.0.0.1", port: server.h1, path: resultPath, method: "POST" });
          req.setHeader("content-type", "application/json");
          req.on("error", () => {});
          req.end("{}");
          leave = () => req.destroy();
        } else {
          const session = http2.connect(`http://127.0.0.1:${server.h2}`);
          const stream = session.request({
            ":method": "POST",
            ":path": resultPath,
            "content-type": "application/grpc",
          });
          stream.on("error", () => {});
          stream.end(envelope(new Uint8Array(0)));
          leave = () => {
            stream.close(how);
            session.close();
          };
        }
        await running;
        leave();
        while (aborted.length === 0) await new Promise((r) => setTimeout(r, 5));
        out.push(...aborted);
      }
      return out;
    };
    const ourReasons = await reasons(ports.ours);
    expect(ourReasons).toEqual(await reasons(ports.theirs));
    expect(ourReasons[1]).toMatch(/canceled/);
    // The server goes on serving.
    const next = await h2Call(
      ports.ours.h2,
      jobPath,
      { "content-type": "application/grpc" },
      envelope(toBinary(GetJobRequestSchema, create(GetJobRequestSchema, { jobId: "j4" }))),
    );
    expect(next.trailers["grpc-status"]).toBe("0");
  });
});

describe("HTTP edge cases, against connect's handler", () => {
  const raw = async (port: number, bytes: Buffer) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.end(bytes);
    const chunks: Buffer[] = [];
    for await (const chunk of socket) chunks.push(chunk as Buffer);
    return withoutPort(Buffer.concat(chunks).toString("latin1")).replace(/\r\nDate: [^\r]*/gi, "");
  };
  const request = (type: string, body: Buffer, extra = "") =>
    Buffer.concat([
      Buffer.from(
        `POST ${jobPath} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}\r\n${extra}\r\n`,
      ),
      body,
    ]);

  it("HTTP/1.1 pipelined calls are answered in order, as connect answers them", async () => {
    const calls = Buffer.concat([
      request("application/json", Buffer.from('{"jobId":"p1"}')),
      request("application/grpc-web", envelope(jobMessage("throw-string"))),
      request("application/proto", Buffer.from(jobMessage("p3")), "connection: close\r\n"),
    ]);
    const ourAnswer = await raw(ports.ours.h1, calls);
    expect(ourAnswer.match(/HTTP\/1\.1 200/g)).toHaveLength(3);
    expect(ourAnswer).toEqual(await raw(ports.theirs.h1, calls));
  });

  it("Expect: 100-continue is answered 100, then the call, as connect answers it", async () => {
    const call = request(
      "application/json",
      Buffer.from('{"jobId":"e1"}'),
      "expect: 100-continue\r\nconnection: close\r\n",
    );
    const ourAnswer = await raw(ports.ours.h1, call);
    expect(ourAnswer).toMatch(/^HTTP\/1\.1 100 Continue/);
    expect(ourAnswer).toEqual(await raw(ports.theirs.h1, call));
  });

  it("HTTP/2 streams reset while their big answers are compressed: nothing fails, the server serves on", async () => {
    failures.length = 0;
    const session = http2.connect(`http://127.0.0.1:${ports.ours.h2}`);
    const body = envelope(jobMessage("z".repeat(200_000)));
    const closed: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const stream = session.request({
        ":method": "POST",
        ":path": jobPath,
        "content-type": "application/grpc",
        "grpc-accept-encoding": i % 2 ? "gzip" : "br",
      });
      stream.on("error", () => {});
      closed.push(new Promise((resolve) => stream.on("close", resolve)));
      stream.end(body);
      // Reset at different points: at once, after the request is sent, after the answer starts.
      if (i % 3 === 0) stream.close(http2.constants.NGHTTP2_CANCEL);
      else if (i % 3 === 1) setImmediate(() => stream.close(http2.constants.NGHTTP2_CANCEL));
      else stream.once("response", () => stream.close(http2.constants.NGHTTP2_CANCEL));
    }
    await Promise.all(closed);
    session.close();
    const next = await h2Call(
      ports.ours.h2,
      jobPath,
      { "content-type": "application/grpc" },
      envelope(jobMessage("j5")),
    );
    expect(next.trailers["grpc-status"]).toBe("0");
    expect(failures).toEqual([]);
    expect(getEventListeners(shutdownSignal, "abort")).toHaveLength(0);
  });
});

describe("where the fast path answers otherwise, on purpose", () => {
  // readCheckedBody's refusals, before either handler, are trailers-only answers (writeRpcError);
  // connect's handler answers headers, then the status in trailers. The same status, but for a
  // flagged-compressed message with no compression named: INVALID_ARGUMENT, where connect says INTERNAL.
  it("a gzip bomb, and a message flagged compressed with no compression named, in gRPC and gRPC-web", async () => {
    const code = (a: Answer) =>
      a.trailers["grpc-status"] ??
      a.headers["grpc-status"] ??
      /grpc-status: ?(\d+)/.exec(a.body.toString("latin1"))?.[1];
    for (const p of protocols.filter((p) => !p.name.startsWith("Connect"))) {
      const call = p.http === "h1" ? h1Call : h2Call;
      const bomb = envelope(gzipSync(Buffer.alloc(2 << 20)), 1);
      const bombHeaders = { ...p.headers, "grpc-encoding": "gzip" };
      const ourBomb = await call(ports.ours[p.http], jobPath, bombHeaders, bomb);
      expect(code(ourBomb)).toBe(code(await call(ports.theirs[p.http], jobPath, bombHeaders, bomb)));
      expect(code(ourBomb)).toBe(String(Code.ResourceExhausted));
      const flagged = envelope(gzipSync(jobMessage("j8")), 1);
      const identity = { ...p.headers, "grpc-encoding": "identity" };
      expect(code(await call(ports.ours[p.http], jobPath, identity, flagged))).toBe(
        String(Code.InvalidArgument),
      );
      expect(code(await call(ports.theirs[p.http], jobPath, identity, flagged))).toBe(String(Code.Internal));
    }
  });

  it("a service that throws undefined: INTERNAL in gRPC, as connect answers it in Connect (connect's gRPC handler answers OK without a message)", async () => {
    for (const p of protocols) {
      const ourAnswer = await (p.http === "h1" ? h1Call : h2Call)(
        ports.ours[p.http],
        jobPath,
        p.headers,
        p.body("throw-undefined"),
      );
      const theirAnswer = await (p.http === "h1" ? h1Call : h2Call)(
        ports.theirs[p.http],
        jobPath,
        p.headers,
        p.body("throw-undefined"),
      );
      if (p.name.startsWith("Connect")) {
        expect(ourAnswer).toEqual(theirAnswer);
        expect(ourAnswer.status).toBe(500);
      } else if (p.name === "gRPC-web") {
        expect(ourAnswer.body.toString("latin1")).toMatch(/grpc-status: ?13/);
        expect(theirAnswer.body.toString("latin1")).toMatch(/^\x80[\s\S]*grpc-status: ?0/);
      } else {
        expect(ourAnswer.trailers["grpc-status"]).toBe("13");
        expect(theirAnswer).toMatchObject({ body: Buffer.alloc(0), trailers: { "grpc-status": "0" } });
      }
    }
  });
});

describe("a message whose encoding the bridge remembers (wire/known-encodings.ts)", () => {
  it("is answered with those bytes in the binary protocols, compressed or not, and encoded as connect does in JSON", async () => {
    for (const p of protocols) {
      const call = p.http === "h1" ? h1Call : h2Call;
      for (const accept of [{}, { "grpc-accept-encoding": "gzip", "accept-encoding": "gzip" }]) {
        const headers = { ...p.headers, ...accept };
        const ourAnswer = await call(ports.ours[p.http], jobPath, headers, p.body("remembered"));
        const theirAnswer = await call(ports.theirs[p.http], jobPath, headers, p.body("remembered"));
        expect(ourAnswer.status).toBe(200);
        if (p.name === "Connect JSON") {
          expect(ourAnswer).toEqual(theirAnswer);
          continue;
        }
        const message = (a: Answer) => {
          if (p.name.startsWith("Connect"))
            return a.headers["content-encoding"] === "gzip" ? gunzipSync(a.body) : a.body;
          const length = a.body.readUInt32BE(1);
          const bytes = a.body.subarray(5, 5 + length);
          return a.body[0] === 1 ? gunzipSync(bytes) : bytes;
        };
        expect(message(ourAnswer)).toEqual(remembered);
        const compressed = ourAnswer.headers["content-encoding"] === "gzip" || ourAnswer.body[0] === 1;
        expect(compressed).toBe("accept-encoding" in accept);
        expect(message(theirAnswer)).not.toEqual(remembered);
        expect(fromBinary(JobSchema, message(ourAnswer))).toEqual(
          fromBinary(JobSchema, message(theirAnswer)),
        );
      }
    }
  });
});

describe("a call connect-node cannot make a URL of", () => {
  // connect-node throws on it (its adapter's request listener: the process's uncaught exception).
  for (const [name, host] of [
    ["HTTP/1.0 without a Host header", ""],
    ["a Host header no URL can hold", "Host: a b\r\n"],
  ] as const)
    it(`${name} is refused (INVALID_ARGUMENT), in the fast path as in connect's`, async () => {
      for (const type of ["application/json", "application/grpc-web"]) {
        const body = type === "application/json" ? Buffer.from('{"jobId":"j"}') : envelope(jobMessage("j"));
        const socket = net.connect(ports.ours.h1, "127.0.0.1");
        socket.end(
          Buffer.concat([
            Buffer.from(
              `POST ${jobPath} HTTP/1.0\r\n${host}content-type: ${type}\r\ncontent-length: ${body.length}\r\n\r\n`,
            ),
            body,
          ]),
        );
        const chunks: Buffer[] = [];
        for await (const chunk of socket) chunks.push(chunk as Buffer);
        const answer = Buffer.concat(chunks).toString("latin1");
        if (type === "application/json")
          expect(answer).toMatch(/^HTTP\/1\.1 400 [\s\S]*"code":"invalid_argument"/);
        else expect(answer).toMatch(/^HTTP\/1\.1 200 [\s\S]*grpc-status: ?3/);
        expect(answer).toMatch(/names(%20| )no(%20| )host/);
      }
    });
});
