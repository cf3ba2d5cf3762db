import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { ComputeService, RetryInfoSchema, ZeroGError } from "@chaoschain/zerog-core";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ZeroGComputeAdapter } from "./adapter.js";

/**
 * What a user sees when ZEROG_GRPC_URL points at the wrong thing, each against a real server on
 * 127.0.0.1: the error must name the real cause, never "a bug in the bridge" or a GetResult
 * timeout, and no failure may crash the process afterwards.
 */
const tls = {
  key: readFileSync(new URL("../test/fixtures/tls-key.pem", import.meta.url)),
  cert: readFileSync(new URL("../test/fixtures/tls-cert.pem", import.meta.url)),
};
const routes = (router: ConnectRouter) =>
  router.service(ComputeService, {
    async getJob(req) {
      return { jobId: req.jobId, state: 1 };
    },
    async *watchJob(req) {
      yield { job: { jobId: req.jobId, state: 3 } };
    },
    async submit() {
      return { jobId: "job_1" };
    },
  });
const task = { task_type: "inference", model: "llama-3-8b", inputs: { prompt: "hi" } };

const servers: Array<net.Server | http.Server | http2.Http2Server> = [];
const sockets = new Set<net.Socket>();
async function listen<S extends net.Server>(server: S): Promise<number> {
  servers.push(server);
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

// Any uncaught error during a test fails it by name (vitest would also report it, less clearly).
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);
beforeAll(() => process.on("uncaughtException", onUncaught));
afterAll(() => process.off("uncaughtException", onUncaught));
afterEach(async () => {
  await new Promise((r) => setTimeout(r, 50)); // let late 'error' events of closed sessions fire
  expect(uncaught).toEqual([]);
});

async function failure(
  grpcUrl: string,
  call: (z: ZeroGComputeAdapter) => Promise<unknown>,
  timeoutSeconds = 5,
) {
  const zerog = new ZeroGComputeAdapter({ grpcUrl, timeoutSeconds });
  try {
    const err = await call(zerog).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ZeroGError);
    const z = err as ZeroGError;
    expect(z.code).not.toBe("internal");
    expect(z.message).not.toMatch(/bug in the bridge/i);
    expect(z.code).not.toBe("wait_timeout");
    return z;
  } finally {
    // close() right after a protocol error must not crash the process.
    zerog.close();
  }
}

describe("errors that name the real cause", () => {
  it("an HTTP/1.1-only server at ZEROG_GRPC_URL", async () => {
    const port = await listen(http.createServer((_req, res) => res.writeHead(404).end("<h1>nope</h1>")));
    const err = await failure(`127.0.0.1:${port}`, (z) => z.submit(task));
    expect(err.code).toBe("unavailable");
    expect(err.shortMessage).toContain("speaks HTTP/1.1 only, so it is not the bridge");
  });

  it("an HTTP/2 server that is not a bridge", async () => {
    const port = await listen(
      http2.createServer((_req, res) => res.writeHead(404, { "content-type": "text/html" }).end("nope")),
    );
    const err = await failure(`127.0.0.1:${port}`, (z) => z.status("job_1"));
    expect(err.shortMessage).toMatch(
      /is not a ChaosChain 0G bridge: it answered GetJob with HTTP 404 \(text\/html\)/,
    );
  });

  it("a gRPC server without the ComputeService", async () => {
    const port = await listen(http2.createServer(connectNodeAdapter({ routes: () => {} })));
    const err = await failure(`127.0.0.1:${port}`, (z) => z.submit(task));
    // connect-node answers an unknown path with a bare HTTP 404.
    expect(err.shortMessage).toMatch(/is not a ChaosChain 0G bridge: it answered Submit with HTTP 404/);
  });

  it("TLS (https://) against a plaintext bridge", async () => {
    const port = await listen(http2.createServer(connectNodeAdapter({ routes })));
    const err = await failure(`https://127.0.0.1:${port}`, (z) => z.submit(task));
    expect(err.shortMessage).toContain("does not speak TLS");
    expect(err.metaMessages.join(" ")).toContain(`http://127.0.0.1:${port}`);
  });

  it("plaintext against a TLS bridge", async () => {
    const port = await listen(
      http2.createSecureServer({ ...tls, allowHTTP1: true }, connectNodeAdapter({ routes })),
    );
    const err = await failure(`127.0.0.1:${port}`, (z) => z.submit(task));
    expect(err.shortMessage).toContain(`speaks TLS: use https://127.0.0.1:${port}`);
  });

  it("a server that accepts connections and never answers: no answer to Submit, not a GetResult timeout", async () => {
    const port = await listen(net.createServer((s) => s.on("error", () => {})));
    const err = await failure(`127.0.0.1:${port}`, (z) => z.submit(task), 1);
    expect(err.code).toBe("unavailable");
    expect(err.shortMessage).toBe(`no answer to Submit to http://127.0.0.1:${port} within 1 s`);
  });

  it("a server that answers garbage and hangs up", async () => {
    const port = await listen(net.createServer((s) => s.end("SSH-2.0-OpenSSH_9.2\r\n")));
    const err = await failure(`127.0.0.1:${port}`, (z) => z.status("job_1"));
    expect(err.shortMessage).toMatch(/not the bridge|not HTTP\/2/);
  });

  it("nothing listening", async () => {
    const port = await listen(net.createServer());
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 20));
    const err = await failure(`127.0.0.1:${port}`, (z) => z.status("job_1"));
    expect(err.shortMessage).toContain("connection refused");
  });
});

describe("a request too large for the server's HTTP/2 session", () => {
  it("is refused up front by default, and does not poison the connection when sent anyway", async () => {
    // As the bridge serves: connect-node on h2c with an 8 MiB message limit and node's default
    // 10 MB session memory, which a larger request overruns (ENHANCE_YOUR_CALM).
    const port = await listen(
      http2.createServer(connectNodeAdapter({ routes, readMaxBytes: 8 * 1024 * 1024 })),
    );
    const huge = {
      ...task,
      inputs: {
        messages: Array.from({ length: 11 }, () => ({ role: "user", content: "x".repeat(1_000_000) })),
      },
    };
    const guarded = new ZeroGComputeAdapter({ grpcUrl: `127.0.0.1:${port}` });
    const refused = await guarded.submit(huge).catch((e: ZeroGError) => e);
    guarded.close();
    expect((refused as ZeroGError).code).toBe("invalid_argument");
    expect((refused as ZeroGError).shortMessage).toMatch(/more than the 8388608 the bridge accepts/);

    const unguarded = new ZeroGComputeAdapter({ grpcUrl: `127.0.0.1:${port}`, maxRequestBytes: 64 << 20 });
    try {
      const err = await unguarded.submit(huge).catch((e: ZeroGError) => e);
      expect(err).toBeInstanceOf(ZeroGError);
      expect((err as ZeroGError).code).not.toBe("internal");
      expect((err as ZeroGError).shortMessage).toMatch(/too large/);
      // Every later call on the same adapter works: the broken session was dropped.
      expect((await unguarded.status("job_7")).jobId).toBe("job_7");
      expect(await unguarded.submit(task)).toBe("job_1");
    } finally {
      unguarded.close();
    }
  });
});

describe("TLS with a CA of one's own", () => {
  // The fixture is self-signed: trusting it as the CA is what a private CA's users do.
  const caFile = fileURLToPath(new URL("../test/fixtures/tls-cert.pem", import.meta.url));

  async function tlsServer() {
    return listen(http2.createSecureServer({ ...tls, allowHTTP1: true }, connectNodeAdapter({ routes })));
  }

  it("is trusted with the caFile option, grpcs:// or https://", async () => {
    const port = await tlsServer();
    for (const grpcUrl of [`grpcs://localhost:${port}`, `https://127.0.0.1:${port}`]) {
      const zerog = new ZeroGComputeAdapter({ grpcUrl, caFile });
      try {
        expect(await zerog.submit(task)).toBe("job_1");
        expect((await zerog.status("job_9")).jobId).toBe("job_9");
      } finally {
        zerog.close();
      }
    }
  });

  it("is trusted with ZEROG_CA_FILE, and the PEM text as the ca option", async () => {
    const port = await tlsServer();
    process.env.ZEROG_CA_FILE = caFile;
    try {
      const zerog = new ZeroGComputeAdapter({ grpcUrl: `https://localhost:${port}` });
      expect(await zerog.submit(task)).toBe("job_1");
      zerog.close();
    } finally {
      delete process.env.ZEROG_CA_FILE;
    }
    const zerog = new ZeroGComputeAdapter({ grpcUrl: `https://localhost:${port}`, ca: readFileSync(caFile) });
    expect(await zerog.submit(task)).toBe("job_1");
    zerog.close();
  });

  it("without the CA, the certificate is not trusted, and the error says how to trust it", async () => {
    const port = await tlsServer();
    const err = await failure(`https://localhost:${port}`, (z) => z.submit(task));
    expect(err.code).toBe("unavailable");
    expect(err.shortMessage).toMatch(/TLS certificate of https:\/\/localhost:\d+ is not trusted/);
    expect(err.metaMessages.join(" ")).toContain("ZEROG_CA_FILE");
  });

  it("an unreadable CA file is refused at construction, naming it", () => {
    expect(
      () => new ZeroGComputeAdapter({ grpcUrl: "https://localhost:1", caFile: "/nonexistent/ca.pem" }),
    ).toThrow(/caFile \/ ZEROG_CA_FILE: cannot read \/nonexistent\/ca\.pem/);
  });
});

describe("a server over its limits", () => {
  it("RESOURCE_EXHAUSTED with RetryInfo from any gRPC server is resource_exhausted with its retry delay", async () => {
    const port = await listen(
      http2.createServer(
        connectNodeAdapter({
          routes: (router) =>
            router.service(ComputeService, {
              async submit() {
                throw new ConnectError("slow down", Code.ResourceExhausted, undefined, [
                  { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: 2n } }) },
                ]);
              },
            }),
        }),
      ),
    );
    const err = await failure(`127.0.0.1:${port}`, (z) => z.submit(task));
    expect(err.code).toBe("resource_exhausted");
    expect(err.retryDelayMs).toBe(2000);
    expect(err.shortMessage).toContain("slow down");
  });
});

describe("HTTP/2 REFUSED_STREAM (RFC 9113 §8.7: not processed, safe to retry)", () => {
  /**
   * connect-node behind a gate that refuses streams while `refuse(n)` says so (n: the stream's
   * number, from 1), with RST_STREAM REFUSED_STREAM, after a GOAWAY when `goaway` is set (the race
   * at a server's idle timeout or stop).
   */
  async function refusingServer(refuse: (n: number) => boolean, goaway = false) {
    const handler = connectNodeAdapter({ routes });
    const seen = { streams: 0, servedOn: [] as number[] };
    let sessionNumber = 0;
    const sessionIds = new WeakMap<http2.Http2Session, number>();
    const server = http2.createServer((req, res) => {
      const n = ++seen.streams;
      const session = req.stream.session!;
      if (!sessionIds.has(session)) sessionIds.set(session, ++sessionNumber);
      if (refuse(n)) {
        if (goaway) session.goaway(http2.constants.NGHTTP2_NO_ERROR, 0);
        req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        if (goaway) session.close();
        return;
      }
      seen.servedOn.push(sessionIds.get(session)!);
      handler(req, res);
    });
    const port = await listen(server);
    return { port, seen };
  }

  it.each([false, true])(
    "a refused unary call is retried once on a fresh session (GOAWAY: %s)",
    async (goaway) => {
      const { port, seen } = await refusingServer((n) => n === 1, goaway);
      const zerog = new ZeroGComputeAdapter({ grpcUrl: `127.0.0.1:${port}` });
      try {
        expect(await zerog.submit(task)).toBe("job_1");
        expect(seen.streams).toBe(2);
        expect(seen.servedOn).toEqual([2]);
        // Later calls go on, on the fresh session.
        expect((await zerog.status("job_3")).jobId).toBe("job_3");
        expect(seen.servedOn).toEqual([2, 2]);
      } finally {
        zerog.close();
      }
    },
  );

  it("a refused server-streaming call (WatchJob) is retried once", async () => {
    const { port, seen } = await refusingServer((n) => n === 1);
    const zerog = new ZeroGComputeAdapter({ grpcUrl: `127.0.0.1:${port}` });
    try {
      const updates: string[] = [];
      for await (const u of zerog.watch("job_1")) updates.push(u.status.state);
      expect(updates).toEqual(["completed"]);
      expect(seen.streams).toBe(2);
    } finally {
      zerog.close();
    }
  });

  it("is retried once only: a server refusing every stream fails the call after two tries", async () => {
    const { port, seen } = await refusingServer(() => true);
    const err = await failure(`127.0.0.1:${port}`, (z) => z.submit(task));
    expect(err.code).toBe("unavailable");
    expect(err.shortMessage).toContain("REFUSED_STREAM");
    expect(seen.streams).toBe(2);
  });

  it("other stream resets are not retried (the call may have been processed)", async () => {
    const handler = connectNodeAdapter({ routes });
    let streams = 0;
    const port = await listen(
      http2.createServer((req, res) => {
        streams++;
        if (streams === 1) return void req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        handler(req, res);
      }),
    );
    await failure(`127.0.0.1:${port}`, (z) => z.submit(task));
    expect(streams).toBe(1);
  });
});
