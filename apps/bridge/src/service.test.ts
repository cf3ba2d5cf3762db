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
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
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
