import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  BadRequestSchema,
  ComputeService,
  ComputeTaskSchema,
  ErrorInfoSchema,
  FailureReason,
  Health,
  HealthCheckResponse_ServingStatus,
  JobState,
  type JobState as JobStateType,
  TaskType,
  VerificationMethod,
} from "@chaoschain/zerog-core";
import { Code, type ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import Database from "better-sqlite3";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { rejection } from "../test/clients.js";
import { controllableBackend } from "../test/fake-backend.js";
import { BackendError } from "./backend.js";
import { type Bridge, createBridge } from "./bridge.js";
import { StorageError } from "./jobs/storage-error.js";

// The services in memory (createRouterTransport) over a fake backend and a real in-memory store:
// the bridge's behaviour, fast. The HTTP server, the wire decoding and the 0G backend are tested over
// real sockets in test/.

const task = (prompt = "What is blockchain?") =>
  create(ComputeTaskSchema, { taskType: TaskType.INFERENCE, model: "llama-3-8b", inputs: { prompt } });

const bridges: Bridge[] = [];
afterEach(async () => {
  for (const b of bridges.splice(0)) await b.close({ graceMs: 100 });
});

function inMemory(options: { apiKey?: string; concurrency?: number; retentionNow?: () => number } = {}) {
  const fake = controllableBackend();
  const bridge = createBridge({
    backend: fake.backend,
    logger: pino({ level: "silent" }),
    dbPath: ":memory:",
    concurrency: options.concurrency ?? 4,
    apiKey: options.apiKey,
    retentionSweep: options.retentionNow && { intervalMs: 20, now: options.retentionNow },
  });
  bridges.push(bridge);
  bridge.start();
  const transport = createRouterTransport(bridge.routes, { router: bridge.routerOptions });
  return {
    ...fake,
    bridge,
    client: createClient(ComputeService, transport),
    health: createClient(Health, transport),
  };
}

describe("Submit, GetJob, GetResult", () => {
  it("runs a job to its result", async () => {
    const { client, finish, started } = inMemory();
    const { jobId } = await client.submit({ task: task() });
    await vi.waitFor(() => expect(started).toEqual([jobId]));
    expect((await client.getJob({ jobId })).state).toBe(JobState.RUNNING);
    const waiting = client.getResult({ jobId, wait: true, timeoutSeconds: 10 });
    finish(jobId);
    expect((await waiting).output).toBe(`done ${jobId}`);
    const job = await client.getJob({ jobId });
    expect(job.state).toBe(JobState.SUCCEEDED);
    expect(job.providerAddress).toBe("0x1111111111111111111111111111111111111111");
  });

  it("returns the first job for a repeated idempotency key, and refuses the key for another task", async () => {
    const { client } = inMemory();
    const first = await client.submit({ task: task(), idempotencyKey: "k-1" });
    expect((await client.submit({ task: task(), idempotencyKey: "k-1" })).jobId).toBe(first.jobId);
    const err = await rejection(client.submit({ task: task("other"), idempotencyKey: "k-1" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("idempotency_key");
  });

  it("refuses an invalid task naming the field, and one the backend cannot run FAILED_PRECONDITION", async () => {
    const { client, refuse } = inMemory();
    const invalid = await rejection(client.submit({ task: { ...task(), model: "" } }));
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(invalid.rawMessage).toContain("task.model");
    expect((await rejection(client.submit({}))).rawMessage).toContain("task: a task is required");
    refuse("no provider offers zk-ml; on offer: tee-ml");
    const refused = await rejection(
      client.submit({ task: { ...task(), verification: VerificationMethod.ZK_ML } }),
    );
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toContain("on offer: tee-ml");
  });

  it("GetResult: not finished without wait, DEADLINE_EXCEEDED after its wait, the reason of a failed job", async () => {
    const { client, started, failWith } = inMemory();
    const { jobId } = await client.submit({ task: task() });
    await vi.waitFor(() => expect(started).toEqual([jobId]));
    expect((await rejection(client.getResult({ jobId }))).code).toBe(Code.FailedPrecondition);
    expect((await rejection(client.getResult({ jobId, wait: true, timeoutSeconds: 1 }))).code).toBe(
      Code.DeadlineExceeded,
    );
    failWith(jobId, new BackendError(FailureReason.PROVIDER_UNAVAILABLE, "every provider is down"));
    const failed = await rejection(client.getResult({ jobId, wait: true }));
    expect(failed.code).toBe(Code.FailedPrecondition);
    expect(failed.findDetails(ErrorInfoSchema)[0]?.metadata.failure_reason).toBe("provider_unavailable");
  });

  it("bounds job ids: empty and over 128 bytes are INVALID_ARGUMENT, an unknown one NOT_FOUND, echoed short", async () => {
    const { client } = inMemory();
    expect((await rejection(client.getJob({ jobId: "" }))).code).toBe(Code.InvalidArgument);
    const long = await rejection(client.getJob({ jobId: "j".repeat(129) }));
    expect(long.code).toBe(Code.InvalidArgument);
    expect(long.rawMessage).not.toContain("j".repeat(65));
    const missing = await rejection(client.getJob({ jobId: `job_${"z".repeat(100)}` }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.rawMessage).not.toContain("z".repeat(65));
  });

  it("answers NOT_FOUND for a job the retention deleted, saying it may have been; its idempotency key then makes a new job", async () => {
    let now = Date.now();
    const { client, finish, started, bridge } = inMemory({ retentionNow: () => now });
    const { jobId } = await client.submit({ task: task(), idempotencyKey: "k-kept" });
    await vi.waitFor(() => expect(started).toEqual([jobId]));
    finish(jobId);
    expect((await client.getResult({ jobId, wait: true, timeoutSeconds: 10 })).output).toBe(`done ${jobId}`);
    const metric = async (pattern: RegExp) =>
      Number(pattern.exec(await bridge.metrics.registry.expose())?.[1] ?? 0);
    const sweeps = () => metric(/^zerog_store_operation_seconds_count\{operation="deleteEnded"\} (\d+)$/m);
    const deleted = async () => (await metric(/^zerog_jobs_deleted_total (\d+)$/m)) === 1;
    // Sweeps run meanwhile: within the 30 days' retention, the job stays.
    now += 29 * 86_400_000;
    const before = await sweeps();
    await vi.waitFor(async () => expect(await sweeps()).toBeGreaterThan(before + 1));
    expect((await client.getJob({ jobId })).state).toBe(JobState.SUCCEEDED);
    expect(await deleted()).toBe(false);
    now += 2 * 86_400_000;
    await vi.waitFor(async () => expect(await deleted()).toBe(true));
    const calls = [
      client.getJob({ jobId }),
      client.getResult({ jobId, wait: true }),
      (async () => {
        for await (const _ of client.watchJob({ jobId })) throw new Error("a deleted job streamed");
      })(),
      client.cancelJob({ jobId }),
    ];
    for (const call of calls) {
      const err = await rejection(call);
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe(
        `job "${jobId}" not found: it was never submitted here, or it ended more than 30d ago and was deleted (the bridge's --job-retention)`,
      );
    }
    const again = await client.submit({ task: task(), idempotencyKey: "k-kept" });
    expect(again.jobId).not.toBe(jobId);
  });

  it("answers a storage failure with its cause: RESOURCE_EXHAUSTED for a full disk", async () => {
    const { client, bridge } = inMemory();
    vi.spyOn(bridge.store, "insert").mockImplementationOnce(() => {
      throw new StorageError(
        "full",
        "SQLITE_FULL",
        "/var/lib/zerog/jobs.db",
        "cannot write /var/lib/zerog/jobs.db",
      );
    });
    const err = await rejection(client.submit({ task: task() }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toBe("the bridge's disk is full: it cannot store jobs now (SQLITE_FULL)");
  });
});

describe("WatchJob and CancelJob", () => {
  it("streams state changes and output until the job ends", async () => {
    const { client, started, stream, finish } = inMemory();
    const { jobId } = await client.submit({ task: task() });
    await vi.waitFor(() => expect(started).toEqual([jobId]));
    const events: Array<{ state: JobStateType; delta: string }> = [];
    const watching = (async () => {
      for await (const e of client.watchJob({ jobId }))
        events.push({ state: e.job!.state, delta: e.outputDelta });
    })();
    await vi.waitFor(() => expect(events.length).toBe(1));
    stream(jobId, "hel");
    stream(jobId, "lo");
    finish(jobId);
    await watching;
    expect(events.map((e) => e.delta).join("")).toBe("hello");
    expect(events.at(-1)?.state).toBe(JobState.SUCCEEDED);
  });

  it("ends a watch with UNAVAILABLE when the bridge stops before the job ends", async () => {
    const { client, started, bridge } = inMemory();
    const { jobId } = await client.submit({ task: task() });
    await vi.waitFor(() => expect(started).toEqual([jobId]));
    let first = false;
    const watching = (async () => {
      for await (const _ of client.watchJob({ jobId })) first = true;
    })();
    await vi.waitFor(() => expect(first).toBe(true));
    const closing = bridge.close({ graceMs: 100 });
    expect((await rejection(watching)).code).toBe(Code.Unavailable);
    await closing;
  });

  it("cancels a running job; a waiting GetResult then fails FAILED_PRECONDITION", async () => {
    const { client, started } = inMemory();
    const { jobId } = await client.submit({ task: task() });
    await vi.waitFor(() => expect(started).toEqual([jobId]));
    const waiting = rejection(client.getResult({ jobId, wait: true, timeoutSeconds: 10 }));
    expect((await client.cancelJob({ jobId })).job?.state).toBe(JobState.CANCELLED);
    expect((await waiting).code).toBe(Code.FailedPrecondition);
  });
});

describe("ListJobs and ListServices", () => {
  it("pages newest first, filters by state, drops repeated states and bounds them", async () => {
    const { client, started, finish } = inMemory({ concurrency: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await client.submit({ task: task(`job ${i}`) })).jobId);
    await vi.waitFor(() => expect(started).toEqual([ids[0]]));
    finish(ids[0]!);
    await vi.waitFor(() => expect(started).toHaveLength(2));
    const page = await client.listJobs({ pageSize: 2 });
    expect(page.jobs.map((j) => j.jobId)).toEqual([ids[2], ids[1]]);
    expect((await client.listJobs({ pageToken: page.nextPageToken })).jobs.map((j) => j.jobId)).toEqual([
      ids[0],
    ]);
    const succeeded = await client.listJobs({ states: Array(10).fill(JobState.SUCCEEDED) });
    expect(succeeded.jobs.map((j) => j.jobId)).toEqual([ids[0]]);
    expect((await rejection(client.listJobs({ states: Array(65).fill(JobState.FAILED) }))).code).toBe(
      Code.InvalidArgument,
    );
    const unspecified = await rejection(client.listJobs({ states: [JobState.UNSPECIFIED] }));
    expect(unspecified.rawMessage).toContain("states[0]");
    expect((await rejection(client.listJobs({ pageToken: "garbage" }))).code).toBe(Code.InvalidArgument);
    expect((await rejection(client.listJobs({ pageSize: 1001 }))).code).toBe(Code.InvalidArgument);
  });

  it("a job id with a NUL or another control character is INVALID_ARGUMENT naming job_id, on every call", async () => {
    // Postgres refuses a NUL in text (22021): it would answer INTERNAL and log an unexpected error.
    const { client } = inMemory();
    for (const jobId of ["job_\u0000", "job_\u001b[2J", "job_\u0085"]) {
      for (const call of [
        () => client.getJob({ jobId }),
        () => client.getResult({ jobId, wait: true }),
        () => client.cancelJob({ jobId }),
      ]) {
        const err = await rejection(call());
        expect(err.code, JSON.stringify(jobId)).toBe(Code.InvalidArgument);
        expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("job_id");
      }
    }
  });

  it("a forged page token of a position no store holds (past 2^53, or 400 digits) is INVALID_ARGUMENT naming page_token", async () => {
    // Postgres refuses such a number as a bigint (22003, 22P02): it would answer INTERNAL and log an unexpected error.
    const { client } = inMemory();
    for (const position of ["9007199254740993", "99999999999999999999", "9".repeat(400)]) {
      const err = await rejection(
        client.listJobs({ pageToken: Buffer.from(`v1:${position}`).toString("base64url") }),
      );
      expect(err.code, position).toBe(Code.InvalidArgument);
      expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("page_token");
    }
  });

  it("lists services, filtered; a model name too long is refused", async () => {
    const { client } = inMemory();
    expect((await client.listServices({})).services).toHaveLength(1);
    expect((await client.listServices({ verification: VerificationMethod.ZK_ML })).services).toHaveLength(0);
    expect((await rejection(client.listServices({ model: "m".repeat(300) }))).code).toBe(
      Code.InvalidArgument,
    );
  });
});

describe("health and authentication", () => {
  it("SERVING until the bridge stops; a watch sees the change; an unknown service is NOT_FOUND", async () => {
    const { health, bridge } = inMemory();
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const seen: HealthCheckResponse_ServingStatus[] = [];
    const controller = new AbortController();
    const watching = (async () => {
      for await (const r of health.watch({}, { signal: controller.signal })) seen.push(r.status);
    })().catch(() => {});
    await vi.waitFor(() => expect(seen).toEqual([HealthCheckResponse_ServingStatus.SERVING]));
    const closing = bridge.close({ graceMs: 100 });
    await vi.waitFor(() => expect(seen.at(-1)).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING));
    controller.abort();
    await watching;
    await closing;
    const unknown = await rejection(health.check({ service: "x".repeat(1000) }));
    expect(unknown.code).toBe(Code.NotFound);
    expect(unknown.rawMessage.length).toBeLessThan(120);
  });

  it("requires the API key on every method but health", async () => {
    const { client, health } = inMemory({ apiKey: "k" });
    expect((await rejection(client.listJobs({}))).code).toBe(Code.Unauthenticated);
    expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});

/** A bridge (in memory, on a store file) with the keys file `keys`, and a client for any key. */
function keyedBridge(keys: unknown[]) {
  const dir = mkdtempSync(join(tmpdir(), "zerog-tenants-"));
  const keysFile = join(dir, "keys.json");
  const dbPath = join(dir, "jobs.db");
  const write = (entries: unknown[]) =>
    writeFileSync(keysFile, JSON.stringify({ keys: entries }), { mode: 0o600 });
  write(keys);
  const fake = controllableBackend();
  const bridge = createBridge({
    backend: fake.backend,
    logger: pino({ level: "silent" }),
    dbPath,
    concurrency: 4,
    apiKeysFile: keysFile,
  });
  bridges.push(bridge);
  bridge.start();
  const client = (key: string) =>
    createClient(
      ComputeService,
      createRouterTransport(bridge.routes, {
        router: bridge.routerOptions,
        transport: {
          interceptors: [
            (next) => (req) => {
              req.header.set("authorization", `Bearer ${key}`);
              return next(req);
            },
          ],
        },
      }),
    );
  return { ...fake, bridge, client, write, dbPath };
}

describe("jobs of each API key (a keys file with two keys)", () => {
  const keyA = "zk_tenant_a_0123456789abcdef01";
  const keyB = "zk_tenant_b_fedcba98765432100f";
  const keyA2 = "zk_tenant_a_rotated_00112233445566";
  const tenants = () =>
    keyedBridge([
      { id: "agent-a", key: keyA },
      { id: "agent-b", key: keyB },
    ]);

  /** A NOT_FOUND as the caller sees it, the job id it names replaced. */
  const notFound = (err: ConnectError, jobId: string) => ({
    code: err.code,
    message: err.rawMessage.replace(jobId, "<id>"),
    details: err.details.length,
    metadata: [...err.metadata.entries()],
  });
  /** An id of the same length as ours that no job has. */
  const unknownLike = (jobId: string) => `job_${"z".repeat(jobId.length - 4)}`;

  it("GetJob, GetResult, WatchJob and CancelJob answer another key's job exactly as an unknown id", async () => {
    const { client, started, finish } = tenants();
    const [a, b] = [client(keyA), client(keyB)];
    const { jobId } = await a.submit({ task: task("a's secret prompt") });
    await vi.waitFor(() => expect(started).toEqual([jobId]));
    const unknown = unknownLike(jobId);
    const calls = {
      getJob: (id: string) => b.getJob({ jobId: id }),
      getResult: (id: string) => b.getResult({ jobId: id }),
      waitResult: (id: string) => b.getResult({ jobId: id, wait: true, timeoutSeconds: 5 }),
      watchJob: async (id: string) => {
        for await (const _ of b.watchJob({ jobId: id }));
      },
      cancelJob: (id: string) => b.cancelJob({ jobId: id }),
    };
    for (const [name, call] of Object.entries(calls)) {
      const other = await rejection(call(jobId));
      const none = await rejection(call(unknown));
      expect(other.code, name).toBe(Code.NotFound);
      expect(notFound(other, jobId), name).toEqual(notFound(none, unknown));
    }
    // b's cancel did nothing: a's job runs on, and ends with its result for a.
    expect((await a.getJob({ jobId })).state).toBe(JobState.RUNNING);
    finish(jobId);
    expect((await a.getResult({ jobId, wait: true, timeoutSeconds: 10 })).output).toBe(`done ${jobId}`);
    // Ended, it is still a's only.
    for (const call of Object.values(calls)) expect((await rejection(call(jobId))).code).toBe(Code.NotFound);
    expect((await a.cancelJob({ jobId })).job?.state).toBe(JobState.SUCCEEDED);
  });

  it("ListJobs shows a key its jobs only, and no page token pages into another key's", async () => {
    const { client } = tenants();
    const [a, b] = [client(keyA), client(keyB)];
    const ids = { a: [] as string[], b: [] as string[] };
    for (let i = 0; i < 6; i++) {
      const [owner, on] = i % 2 ? (["b", b] as const) : (["a", a] as const);
      ids[owner].push((await on.submit({ task: task(`job ${i}`) })).jobId);
    }
    const all = async (on: typeof a, pageToken = "", pageSize = 2) => {
      const seen: string[] = [];
      do {
        const page = await on.listJobs({ pageSize, pageToken });
        seen.push(...page.jobs.map((j) => j.jobId));
        pageToken = page.nextPageToken;
      } while (pageToken);
      return seen;
    };
    expect(await all(a)).toEqual([...ids.a].reverse());
    expect(await all(b)).toEqual([...ids.b].reverse());
    // a's page token, and tokens made up for any position, give b its own jobs only.
    const aPage = await a.listJobs({ pageSize: 1 });
    expect(await all(b, aPage.nextPageToken, 10)).toEqual([ids.b[1], ids.b[0]]);
    for (const position of [1_000_000, 6, 3]) {
      const token = Buffer.from(`v1:${position}`).toString("base64url");
      for (const id of await all(b, token, 10)) expect(ids.b).toContain(id);
    }
    const queued = await b.listJobs({ states: [JobState.QUEUED, JobState.RUNNING], pageSize: 100 });
    expect(queued.jobs.map((j) => j.jobId).sort()).toEqual([...ids.b].sort());
  });

  it("an idempotency key is per key: another key's use of it makes its own job and learns nothing of the first", async () => {
    const { client } = tenants();
    const [a, b] = [client(keyA), client(keyB)];
    const first = await a.submit({ task: task("a's task"), idempotencyKey: "order-42" });
    const other = await b.submit({ task: task("a's task"), idempotencyKey: "order-42" });
    expect(other.jobId).not.toBe(first.jobId);
    expect((await b.getJob({ jobId: other.jobId })).jobId).toBe(other.jobId);
    // b's own key for another task: refused naming b's job only.
    const refused = await rejection(b.submit({ task: task("b's other task"), idempotencyKey: "order-42" }));
    expect(refused.code).toBe(Code.InvalidArgument);
    expect(JSON.stringify(refused.findDetails(BadRequestSchema))).toContain(other.jobId);
    expect(`${refused.rawMessage}${JSON.stringify(refused.findDetails(BadRequestSchema))}`).not.toContain(
      first.jobId,
    );
    // A key b never used before, which a used for another task: b gets a job, no conflict.
    await a.submit({ task: task("a's second"), idempotencyKey: "order-43" });
    expect((await b.submit({ task: task("b's own"), idempotencyKey: "order-43" })).jobId).toMatch(/^job_/);
    expect((await a.submit({ task: task("a's task"), idempotencyKey: "order-42" })).jobId).toBe(first.jobId);
  });

  it("a rotated key keeps its id, and so its jobs; the old key is refused", async () => {
    const { client, bridge, write } = tenants();
    const { jobId } = await client(keyA).submit({ task: task(), idempotencyKey: "k-rotate" });
    write([
      { id: "agent-a", key: keyA2 },
      { id: "agent-b", key: keyB },
    ]);
    expect(bridge.reload().ok).toBe(true);
    const rotated = client(keyA2);
    expect((await rotated.getJob({ jobId })).jobId).toBe(jobId);
    expect((await rotated.listJobs({})).jobs.map((j) => j.jobId)).toEqual([jobId]);
    expect((await rotated.submit({ task: task(), idempotencyKey: "k-rotate" })).jobId).toBe(jobId);
    expect((await rejection(client(keyA).getJob({ jobId }))).code).toBe(Code.Unauthenticated);
    expect((await rejection(client(keyB).getJob({ jobId }))).code).toBe(Code.NotFound);
  });

  it("refuses a keys file whose entry takes ZEROG_API_KEY's id (default): two keys would share their jobs", () => {
    const keysFile = join(mkdtempSync(join(tmpdir(), "zerog-tenants-")), "keys.json");
    writeFileSync(keysFile, JSON.stringify({ keys: [{ id: "default", key: keyB }] }), { mode: 0o600 });
    const open = () =>
      createBridge({
        backend: controllableBackend().backend,
        logger: pino({ level: "silent" }),
        dbPath: ":memory:",
        apiKey: keyA,
        apiKeysFile: keysFile,
      });
    expect(open).toThrow(/keys\[0\]\.id "default" is the id of ZEROG_API_KEY/);
    expect(open).not.toThrow(new RegExp(`${keyA}|${keyB}`));
  });

  it("a job stored before key ids were is reached by every key, as before the upgrade", async () => {
    const { client, dbPath } = tenants();
    const [a, b] = [client(keyA), client(keyB)];
    const { jobId } = await a.submit({ task: task("before the upgrade"), idempotencyKey: "k-old" });
    const db = new Database(dbPath);
    db.prepare("UPDATE jobs SET key_id = NULL WHERE id = ?").run(jobId);
    db.close();
    expect((await b.getJob({ jobId })).jobId).toBe(jobId);
    expect((await b.listJobs({})).jobs.map((j) => j.jobId)).toEqual([jobId]);
    // A retry across the upgrade, with the same idempotency key, is the same job.
    expect((await b.submit({ task: task("before the upgrade"), idempotencyKey: "k-old" })).jobId).toBe(jobId);
  });
});

describe("an operator key (allJobs in the keys file)", () => {
  it("reaches and lists every key's jobs, and cancels any; its own idempotency keys stay its own", async () => {
    const opsKey = "zk_operator_00112233445566778899";
    const keyA = "zk_tenant_a_0123456789abcdef01";
    const { client } = keyedBridge([
      { id: "ops", key: opsKey, allJobs: true },
      { id: "agent-a", key: keyA },
    ]);
    const [ops, a] = [client(opsKey), client(keyA)];
    const aJob = await a.submit({ task: task("a's"), idempotencyKey: "k-1" });
    const opsJob = await ops.submit({ task: task("a's"), idempotencyKey: "k-1" });
    expect(opsJob.jobId).not.toBe(aJob.jobId);
    expect((await ops.getJob({ jobId: aJob.jobId })).jobId).toBe(aJob.jobId);
    expect((await ops.listJobs({})).jobs.map((j) => j.jobId)).toEqual([opsJob.jobId, aJob.jobId]);
    expect((await a.listJobs({})).jobs.map((j) => j.jobId)).toEqual([aJob.jobId]);
    expect((await rejection(a.getJob({ jobId: opsJob.jobId }))).code).toBe(Code.NotFound);
    expect((await ops.cancelJob({ jobId: aJob.jobId })).job?.state).toBe(JobState.CANCELLED);
  });
});

describe("jobs without API keys (one tenant)", () => {
  it("every caller reaches every job, whoever's key submitted it, as before API keys", async () => {
    const { client, bridge } = inMemory();
    const { jobId } = await client.submit({ task: task() });
    const { record } = await bridge.store.insert(task("stored by a key"), "", { keyId: "agent-x" });
    expect((await client.getJob({ jobId: record.job.jobId })).jobId).toBe(record.job.jobId);
    expect((await client.listJobs({})).jobs.map((j) => j.jobId)).toEqual([record.job.jobId, jobId]);
    expect((await client.cancelJob({ jobId: record.job.jobId })).job?.state).toBe(JobState.CANCELLED);
  });
});
