import http from "node:http";
import http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  BadRequestSchema,
  ComputeService,
  GetJobRequestSchema,
  SubmitRequestSchema,
  VerificationMethod,
} from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawConnection, rejection } from "./clients.js";
import { task } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

const apiKey = "zk_test_wire_5b1e0c2f9a7d4e36";
let devnet: Devnet;
/** No API key, no CORS origin. */
let open: BridgeProcess;
/** An API key, and one allowed browser origin. */
let guarded: BridgeProcess;
beforeAll(async () => {
  devnet = await startDevnet();
  open = await spawnBridge(devnet);
  guarded = await spawnBridge(devnet, {
    args: ["--cors-origin=http://app.test"],
    env: { ZEROG_API_KEY: apiKey },
  });
});
afterAll(async () => {
  await open?.dispose();
  await guarded?.dispose();
  await devnet?.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

/** A POST over HTTP/1.1 with exactly these headers and body bytes (node:http, so Host can be set). */
function post(
  bridge: BridgeProcess,
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: bridge.port,
        method: "POST",
        path,
        agent: false,
        headers: { "content-type": "application/json", ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * One raw HTTP/2 POST; resolves with the response headers and trailers. With `end: false` the body
 * never ends, and it resolves with the response headers alone.
 */
async function h2Request(
  bridge: BridgeProcess,
  headers: http2.OutgoingHttpHeaders,
  body: string | Uint8Array,
  { end = true } = {},
): Promise<http2.IncomingHttpHeaders> {
  const session = http2.connect(bridge.baseUrl);
  try {
    const stream = session.request({ ":method": "POST", te: "trailers", ...headers });
    if (end) stream.end(body);
    else stream.write(body);
    let answer: http2.IncomingHttpHeaders = {};
    await new Promise<void>((resolve) => {
      stream.once("response", (h) => {
        answer = { ...h };
        if (!end) resolve();
      });
      stream.on("trailers", (t) => Object.assign(answer, t));
      stream.once("close", () => resolve());
      stream.resume();
    });
    stream.destroy();
    return answer;
  } finally {
    session.close();
  }
}

/** Sends only the head of a Submit announcing `length` body bytes; the answer, once the bridge closes. */
async function submitHeadOnly(bridge: BridgeProcess, length: number): Promise<string> {
  const raw = await rawConnection(bridge.port);
  raw.socket.write(
    `POST ${compute("Submit")} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`,
  );
  await raw.closed;
  return raw.received();
}

const compute = (method: string) => `/chaoschain.zerog.v1.ComputeService/${method}`;
const jsonTask = {
  task_type: "TASK_TYPE_INFERENCE",
  model: "llama-3-8b",
  inputs: { prompt: "What is blockchain?" },
};

describe("Connect JSON: what is not in the contract is refused, never ignored", () => {
  it('"verification": "zk-ml" is zk-ml (refused as not on offer), never tee-ml', async () => {
    const before = (await post(open, compute("ListJobs"), "{}")).json.jobs as unknown[] | undefined;
    const res = await post(
      open,
      compute("Submit"),
      JSON.stringify({ task: { ...jsonTask, verification: "zk-ml" } }),
    );
    expect(res.status).toBe(400); // failed_precondition
    expect(res.json.code).toBe("failed_precondition");
    expect(res.json.message).toContain("on offer: tee-ml");
    const after = (await post(open, compute("ListJobs"), "{}")).json.jobs as unknown[] | undefined;
    expect(after?.length ?? 0).toBe(before?.length ?? 0);
  });

  it("the original adapter's spellings are accepted: task_type inference, verification tee-ml", async () => {
    const res = await post(
      open,
      compute("Submit"),
      JSON.stringify({ task: { ...jsonTask, task_type: "inference", verification: "tee-ml" } }),
    );
    expect(res.status).toBe(200);
    expect(res.json.jobId).toMatch(/^job_/);
  });

  it("an unknown enum name is INVALID_ARGUMENT naming the field and the accepted values", async () => {
    const res = await post(
      open,
      compute("Submit"),
      JSON.stringify({ task: { ...jsonTask, verification: "zk-mll" } }),
    );
    expect(res.status).toBe(400);
    expect(res.json.code).toBe("invalid_argument");
    expect(res.json.message).toContain("task.verification");
    expect(res.json.message).toContain('"VERIFICATION_METHOD_TEE_ML" ("tee-ml", 1)');
    expect(res.json.message).toContain('"VERIFICATION_METHOD_ZK_ML" ("zk-ml", 2)');
  });

  it("a misspelt field (idempotency_kee) is INVALID_ARGUMENT naming it and the fields there are", async () => {
    const res = await post(
      open,
      compute("Submit"),
      JSON.stringify({ task: jsonTask, idempotency_kee: "k1" }),
    );
    expect(res.status).toBe(400);
    expect(res.json.message).toContain(
      "idempotency_kee: unknown field; SubmitRequest has: task, idempotency_key",
    );
    const nested = await post(
      open,
      compute("Submit"),
      JSON.stringify({ task: { ...jsonTask, inputs: { promt: "hi" } } }),
    );
    expect(nested.json.message).toContain("task.inputs.promt: unknown field");
  });

  it('ListJobs {"states": ["FAILED"]} lists failed jobs only; unknown and unspecified states are refused', async () => {
    const submitted = await post(open, compute("Submit"), JSON.stringify({ task: jsonTask }));
    expect(submitted.status).toBe(200);
    const failed = await post(open, compute("ListJobs"), JSON.stringify({ states: ["FAILED"] }));
    expect(failed.status).toBe(200);
    for (const job of (failed.json.jobs as Array<{ state: string }> | undefined) ?? [])
      expect(job.state).toBe("JOB_STATE_FAILED");
    const all = await post(open, compute("ListJobs"), "{}");
    expect((all.json.jobs as unknown[]).length).toBeGreaterThan(0);
    const unknown = await post(open, compute("ListJobs"), JSON.stringify({ states: ["FINISHED"] }));
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toContain("states[0]");
    expect(unknown.json.message).toContain('"JOB_STATE_FAILED" ("failed", 4)');
    const unspecified = await post(
      open,
      compute("ListJobs"),
      JSON.stringify({ states: ["JOB_STATE_UNSPECIFIED"] }),
    );
    expect(unspecified.status).toBe(400);
    expect(unspecified.json.message).toContain("states[0]");
  });

  it("invalid UTF-8 and unpaired surrogates are refused, never rewritten to U+FFFD", async () => {
    const body = Buffer.concat([
      Buffer.from(`{"task":{"task_type":"inference","model":"llama-3-8b","inputs":{"prompt":"bad `),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`"}}}`),
    ]);
    const bytes = await post(open, compute("Submit"), body);
    expect(bytes.status).toBe(400);
    expect(bytes.json.message).toContain("not valid UTF-8");
    const surrogate = await post(
      open,
      compute("Submit"),
      '{"task":{"task_type":"inference","model":"llama-3-8b","inputs":{"prompt":"bad \\ud800"}}}',
    );
    expect(surrogate.status).toBe(400);
    expect(surrogate.json.message).toContain("task.inputs.prompt");
  });

  it("a body that is not JSON, or not an object, is INVALID_ARGUMENT", async () => {
    expect((await post(open, compute("Submit"), "{nope")).json.code).toBe("invalid_argument");
    expect((await post(open, compute("Submit"), "[1,2]")).json.message).toContain("must be a JSON object");
  });
});

describe("binary protobuf: Connect, gRPC and gRPC-web", () => {
  const submitBytes = (patch: (m: ReturnType<typeof create<typeof SubmitRequestSchema>>) => void) => {
    const message = create(SubmitRequestSchema, { task: task() });
    patch(message);
    return toBinary(SubmitRequestSchema, message);
  };

  it("an unknown field number is INVALID_ARGUMENT naming it (Connect, application/proto)", async () => {
    const bytes = submitBytes((m) => {
      m.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    });
    const res = await post(open, compute("Submit"), bytes, { "content-type": "application/proto" });
    expect(res.status).toBe(400);
    expect(res.json.message).toContain("unknown field number 99");
  });

  it("an unknown enum number is INVALID_ARGUMENT naming the field and the accepted values", async () => {
    const bytes = submitBytes((m) => {
      m.task!.verification = 42 as VerificationMethod;
    });
    const res = await post(open, compute("Submit"), bytes, { "content-type": "application/proto" });
    expect(res.status).toBe(400);
    expect(res.json.message).toContain("task.verification: unknown value 42");
    expect(res.json.message).toContain("tee-ml");
  });

  it("malformed bytes are INVALID_ARGUMENT, not INTERNAL", async () => {
    const res = await post(open, compute("Submit"), new Uint8Array([0x0a, 0xff, 0xff, 0xff]), {
      "content-type": "application/proto",
    });
    expect(res.status).toBe(400);
    expect(res.json.code).toBe("invalid_argument");
    const utf8 = await post(open, compute("GetJob"), new Uint8Array([0x0a, 0x02, 0xc3, 0x28]), {
      "content-type": "application/proto",
    });
    expect(utf8.json.message).toContain("job_id: not valid UTF-8");
  });

  it("the same over gRPC (HTTP/2) and gRPC-web (HTTP/1.1)", async () => {
    const clients = [
      open.compute(),
      createClient(ComputeService, createGrpcWebTransport({ baseUrl: open.baseUrl, httpVersion: "1.1" })),
    ];
    for (const client of clients) {
      const unknownField = create(SubmitRequestSchema, { task: task() });
      unknownField.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
      const err = await rejection(client.submit(unknownField));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain("unknown field number 99");
      const unknownEnum = create(SubmitRequestSchema, {
        task: { ...task(), verification: 7 as VerificationMethod },
      });
      const enumErr = await rejection(client.submit(unknownEnum));
      expect(enumErr.code).toBe(Code.InvalidArgument);
      expect(enumErr.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("task.verification");
      const zk = await rejection(
        client.submit({ task: { ...task(), verification: VerificationMethod.ZK_ML } }),
      );
      expect(zk.code).toBe(Code.FailedPrecondition);
    }
  });

  it("an envelope flagged other than plain or compressed-as-named is INVALID_ARGUMENT, never decoded leniently", async () => {
    // A message with a field this contract lacks: refused strictly, unless the framing slips past the check.
    const unknownField = Buffer.from(
      submitBytes((m) => {
        m.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
      }),
    );
    const valid = Buffer.from(submitBytes(() => {}));
    const envelope = (flags: number, message: Buffer) => {
      const head = Buffer.from([flags, 0, 0, 0, 0]);
      head.writeUInt32BE(message.length, 1);
      return Buffer.concat([head, message]);
    };
    const jobs = async () =>
      ((await post(open, compute("ListJobs"), "{}")).json.jobs as unknown[] | undefined)?.length ?? 0;
    const before = await jobs();
    // Reserved bits (0x80), the Connect end-stream bit (0x02) in a request, and the compressed bit with
    // no grpc-encoding (gRPC: "MUST be rejected").
    for (const [flags, message] of [
      [0x80, unknownField],
      [0x02, unknownField],
      [0x01, valid],
    ] as const) {
      const grpc = await h2Request(
        open,
        { ":path": compute("Submit"), "content-type": "application/grpc" },
        envelope(flags, message),
      );
      expect(grpc["grpc-status"], `gRPC, flags ${flags}`).toBe(String(Code.InvalidArgument));
      expect(decodeURIComponent(String(grpc["grpc-message"]))).toContain("flag");
      const web = await post(open, compute("Submit"), envelope(flags, message), {
        "content-type": "application/grpc-web+proto",
      });
      expect(web.text, `gRPC-web, flags ${flags}`).toMatch(
        new RegExp(`grpc-status: ?${Code.InvalidArgument}\r\n`),
      );
    }
    expect(await jobs()).toBe(before);
  });

  it("malformed bytes over gRPC are INVALID_ARGUMENT (grpc-status 3)", async () => {
    const garbage = Buffer.from([0x0a, 0x7f, 0x01]);
    const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, garbage.length]), garbage]);
    const answer = await h2Request(
      open,
      { ":path": compute("GetJob"), "content-type": "application/grpc" },
      envelope,
    );
    expect(answer["grpc-status"]).toBe("3");
  });
});

describe("deadlines", () => {
  // A timer waits at most 2^31 - 1 ms (24.8 days); Node fires a longer one after 1 ms, with a warning.
  it("a deadline longer than a timer can wait is INVALID_ARGUMENT naming the maximum, never a deadline at once", async () => {
    const unknownJob = JSON.stringify({ job_id: "job_unknown" });
    const connect = await post(open, compute("GetJob"), unknownJob, { "connect-timeout-ms": "3000000000" });
    expect(connect.status).toBe(400);
    expect(connect.json.code).toBe("invalid_argument");
    expect(connect.json.message).toContain("2147483647");
    const request = Buffer.from(
      toBinary(GetJobRequestSchema, create(GetJobRequestSchema, { jobId: "job_unknown" })),
    );
    const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, request.length]), request]);
    const grpc = await h2Request(
      open,
      { ":path": compute("GetJob"), "content-type": "application/grpc", "grpc-timeout": "99999999H" },
      envelope,
    );
    expect(grpc["grpc-status"]).toBe("3");
    // The longest a timer can wait is accepted: the call reaches the service (which does not know the job).
    const longest = await post(open, compute("GetJob"), unknownJob, { "connect-timeout-ms": "2147483647" });
    expect(longest.json.code).toBe("not_found");
    expect(open.stderr()).not.toContain("TimeoutOverflowWarning");
  });
});

describe("identifiers and lists are bounded", () => {
  it("a huge job id is INVALID_ARGUMENT and is never echoed in full", async () => {
    const id = `job_${"x".repeat(10_000)}`;
    const res = await post(open, compute("GetJob"), JSON.stringify({ jobId: id }));
    expect(res.status).toBe(400);
    expect(res.json.message).toContain("job_id");
    expect(res.text.length).toBeLessThan(1000);
    const err = await rejection(open.compute().getJob({ jobId: `job_${"y".repeat(120)}` }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).not.toContain("y".repeat(120));
  });

  it("ListJobs states are deduplicated, and too many are refused", async () => {
    const repeated = await post(
      open,
      compute("ListJobs"),
      JSON.stringify({ states: Array(50).fill("SUCCEEDED") }),
    );
    expect(repeated.status).toBe(200);
    const flood = await post(
      open,
      compute("ListJobs"),
      JSON.stringify({ states: Array(40_000).fill("FAILED") }),
    );
    expect(flood.status).toBe(400);
    expect(flood.json.message).toContain("states");
    expect(flood.text.length).toBeLessThan(2000);
  });

  it("other names are bounded too: a ListServices model, a health service", async () => {
    const model = await post(open, compute("ListServices"), JSON.stringify({ model: "m".repeat(5000) }));
    expect(model.status).toBe(400);
    expect(model.text.length).toBeLessThan(1000);
    const health = await post(
      open,
      "/grpc.health.v1.Health/Check",
      JSON.stringify({ service: "s".repeat(5000) }),
    );
    expect(health.status).toBe(404);
    expect(health.text.length).toBeLessThan(1000);
  });

  it("a body over the 8 MiB limit is refused from its Content-Length, unread", async () => {
    const text = await submitHeadOnly(open, 9_000_000);
    expect(text).toMatch(/^HTTP\/1\.1 429/);
    expect(text).toContain("resource_exhausted");
    expect(text).toContain("8 MiB");
  });
});

describe("before the body: API key, origin, Host", () => {
  it("an unauthenticated call is refused before its body is sent (HTTP/1.1 and HTTP/2)", async () => {
    // Headers announcing 50 MB, and no body at all: the answer must not wait for it.
    const text = await submitHeadOnly(guarded, 50_000_000);
    expect(text).toMatch(/^HTTP\/1\.1 401/);
    expect(text.toLowerCase()).toContain("connection: close");

    // Over HTTP/2: a body that never ends.
    const answer = await h2Request(
      guarded,
      { ":path": compute("Submit"), "content-type": "application/grpc" },
      Buffer.alloc(1024),
      { end: false },
    );
    expect(answer["grpc-status"]).toBe(String(Code.Unauthenticated));
    // With the key, calls go through.
    expect((await guarded.compute(apiKey).listJobs({})).jobs).toBeDefined();
  });

  it("without an API key, no origin may call unless configured", async () => {
    const res = await post(open, compute("ListJobs"), "{}", { origin: "http://evil.test" });
    expect(res.status).toBe(403);
    expect(res.json.code).toBe("permission_denied");
    expect(res.json.message).toContain("--cors-origin");
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("a configured origin is allowed (preflight and call); others are refused", async () => {
    const preflight = await fetch(`${guarded.baseUrl}${compute("Submit")}`, {
      method: "OPTIONS",
      headers: { origin: "http://app.test", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("http://app.test");
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/authorization/i);
    const call = await post(guarded, compute("ListJobs"), "{}", {
      origin: "http://app.test",
      authorization: `Bearer ${apiKey}`,
    });
    expect(call.status).toBe(200);
    expect(call.headers["access-control-allow-origin"]).toBe("http://app.test");
    const other = await post(guarded, compute("ListJobs"), "{}", {
      origin: "http://evil.test",
      authorization: `Bearer ${apiKey}`,
    });
    expect(other.status).toBe(403);
  });

  it("on loopback, a Host that is not a loopback name is refused (DNS rebinding)", async () => {
    const rebound = await post(open, compute("ListJobs"), "{}", { host: `evil.test:${open.port}` });
    expect(rebound.status).toBe(403);
    expect(rebound.json.message).toContain("Host");
    for (const host of [`localhost:${open.port}`, `127.0.0.1:${open.port}`, `[::1]:${open.port}`]) {
      expect((await post(open, compute("ListJobs"), "{}", { host })).status).toBe(200);
    }
    const answer = await h2Request(
      open,
      {
        ":path": compute("ListJobs"),
        ":authority": "evil.test",
        "content-type": "application/json",
      },
      "{}",
    );
    expect(answer[":status"]).toBe(403);
  });
});

describe("the request decoder keeps the other protocols' messages intact", () => {
  it("a GetJob over Connect binary reaches the service", async () => {
    const bytes = toBinary(GetJobRequestSchema, create(GetJobRequestSchema, { jobId: "job_nope" }));
    const res = await post(open, compute("GetJob"), bytes, { "content-type": "application/proto" });
    expect(res.status).toBe(404);
    expect(res.json.code).toBe("not_found");
  });
});
