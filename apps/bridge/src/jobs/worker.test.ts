import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FailureReason, JobState } from "@chaoschain/zerog-core";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { controllableBackend } from "../../test/fake-backend.js";
import { inferenceTask, minute, usePostgres } from "../../test/stores.js";
import { BackendError } from "../backend.js";
import { JobEvents } from "./job-events.js";
import type { JobStore } from "./job-store.js";
import { PostgresJobStore } from "./postgres-store.js";
import { publishRemoteChanges } from "./remote-jobs.js";
import { SqliteJobStore } from "./sqlite-store.js";
import { StorageError } from "./storage-error.js";
import { Worker } from "./worker.js";

const task = inferenceTask("p");

const workers: Worker[] = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const w of workers.splice(0)) await w.stop(0);
});

/** A worker over `store` as the bridge wires it: the store's changes published to its events. */
function setup(
  concurrency = 2,
  store: JobStore = new SqliteJobStore(":memory:"),
  options: { owner?: string; leaseMs?: number; pollMs?: number; progressIntervalMs?: number } = {},
) {
  const events = new JobEvents();
  store.attach({ onChange: (change) => events.publish(change) });
  const fake = controllableBackend();
  const worker = new Worker({
    store,
    events,
    backend: fake.backend,
    logger: pino({ level: "silent" }),
    concurrency,
    maxAttempts: 2,
    owner: options.owner ?? "bridge-a",
    leaseMs: options.leaseMs ?? minute,
    pollMs: options.pollMs,
    progressIntervalMs: options.progressIntervalMs,
  });
  workers.push(worker);
  const remote = publishRemoteChanges({
    store,
    events,
    logger: pino({ level: "silent" }),
    runsHere: (id) => worker.runs(id),
    onQueued: () => worker.pump(),
    pollMs: options.pollMs,
  });
  stops.push(() => remote.stop());
  return { store, worker, events, ...fake };
}
const insert = async (store: JobStore) => (await store.insert(task, "")).record.job.jobId;

describe("Worker", () => {
  it("runs at most `concurrency` jobs and starts the next when one ends", async () => {
    const { store, worker, started, finish } = setup(2);
    const ids = [await insert(store), await insert(store), await insert(store)];
    worker.start();
    await vi.waitFor(() => expect(started).toEqual([ids[0], ids[1]]));
    finish(ids[0]!);
    await vi.waitFor(() => expect(started).toEqual(ids));
    expect((await store.get(ids[0]!))?.job.state).toBe(JobState.SUCCEEDED);
    expect((await store.result(ids[0]!))?.output).toBe(`done ${ids[0]}`);
  });

  it("a run that ended is not aborted by the end it writes; a running one is by a cancellation", async () => {
    const { store, worker, finish, failWith, context } = setup(3);
    const [done, failed, cancelled] = [await insert(store), await insert(store), await insert(store)];
    worker.start();
    await vi.waitFor(() => expect(worker.runningCount).toBe(3));
    const signals = [done, failed, cancelled].map((id) => context(id)!.signal);
    finish(done);
    failWith(failed, new BackendError(FailureReason.PROVIDER_ERROR, "down"));
    expect(await worker.cancel(cancelled)).toBe(true);
    await vi.waitFor(() => expect(worker.runningCount).toBe(0));
    expect((await store.get(done))?.job.state).toBe(JobState.SUCCEEDED);
    expect((await store.get(failed))?.job.state).toBe(JobState.FAILED);
    expect(signals.map((s) => s.aborted)).toEqual([false, false, true]);
    expect(signals[2]!.reason).toBe("cancelled");
  });

  it("fails a job with the backend's reason, and hides unexpected errors", async () => {
    const { store, worker, failWith } = setup(2);
    const [a, b] = [await insert(store), await insert(store)];
    worker.start();
    await vi.waitFor(() => expect(worker.runningCount).toBe(2));
    failWith(a, new BackendError(FailureReason.PROOF_INVALID, "bad signature"));
    failWith(b, new Error("secret internal detail"));
    await vi.waitFor(() => expect(worker.runningCount).toBe(0));
    expect((await store.get(a))?.job.error).toMatchObject({
      reason: FailureReason.PROOF_INVALID,
      message: "bad signature",
    });
    expect((await store.get(b))?.job.error?.reason).toBe(FailureReason.INTERNAL);
    expect((await store.get(b))?.job.error?.message).not.toContain("secret");
  });

  it("cancels a running job and does not overwrite the cancellation", async () => {
    const { store, worker } = setup(1);
    const id = await insert(store);
    worker.start();
    await vi.waitFor(() => expect(worker.runningCount).toBe(1));
    expect(await worker.cancel(id)).toBe(true);
    await vi.waitFor(() => expect(worker.runningCount).toBe(0));
    expect((await store.get(id))?.job.state).toBe(JobState.CANCELLED);
    expect(await worker.cancel(id)).toBe(false);
  });

  it("requeues running jobs at shutdown and resumes them at the next start", async () => {
    const store = new SqliteJobStore(":memory:");
    const first = setup(1, store);
    const id = await insert(store);
    first.worker.start();
    await vi.waitFor(() => expect(first.started).toEqual([id]));
    await first.worker.stop(20);
    expect((await store.get(id))?.job.state).toBe(JobState.QUEUED);
    const second = setup(1, store);
    second.worker.start();
    await vi.waitFor(() => expect(second.started).toEqual([id]));
    expect((await store.get(id))?.job.attempts).toBe(2);
  });

  it("fails a job left running by a crash once it has used its attempts", async () => {
    const store = new SqliteJobStore(":memory:");
    const id = await insert(store);
    const [first] = await store.claim("crashed", 1, minute);
    await store.requeue(id, first!.lease);
    await store.claim("crashed", 1, minute); // attempt 2, then the bridge "crashes"
    const { worker, started } = setup(1, store);
    worker.start();
    await vi.waitFor(async () =>
      expect((await store.get(id))?.job.error?.reason).toBe(FailureReason.INTERRUPTED),
    );
    expect(started).toEqual([]);
  });

  it("keeps the outcome of a job the store cannot record, and records it at resume()", async () => {
    const { store, worker, finish } = setup(1);
    const id = await insert(store);
    const full = new StorageError("full", "SQLITE_FULL", "jobs.db", "cannot write the job store jobs.db");
    const succeed = vi.spyOn(store, "succeed").mockRejectedValueOnce(full);
    worker.start();
    await vi.waitFor(() => expect(worker.runningCount).toBe(1));
    finish(id);
    await vi.waitFor(() => expect(worker.runningCount).toBe(0));
    expect(succeed).toHaveBeenCalledTimes(1);
    expect((await store.get(id))?.job.state).toBe(JobState.RUNNING);
    await worker.resume();
    expect((await store.get(id))?.job.state).toBe(JobState.SUCCEEDED);
    expect((await store.result(id))?.output).toBe(`done ${id}`);
  });

  it("leaves jobs queued while none can be claimed, and starts them at resume()", async () => {
    const { store, worker, started } = setup(2);
    const ids = [await insert(store), await insert(store)];
    const claim = vi
      .spyOn(store, "claim")
      .mockRejectedValue(new StorageError("full", "SQLITE_FULL", "jobs.db", "full"));
    worker.start();
    await vi.waitFor(() => expect(claim).toHaveBeenCalled());
    expect(started).toEqual([]);
    expect((await store.counts()).get(JobState.QUEUED)).toBe(2);
    claim.mockRestore();
    await worker.resume();
    await vi.waitFor(() => expect(started).toEqual(ids));
  });
});

describe("Worker: progress hints", () => {
  it("a job that ends within the interval writes none of its progress: its end supersedes it", async () => {
    const { store, worker, context, finish } = setup(1, undefined, { progressIntervalMs: 60_000 });
    const update = vi.spyOn(store, "update");
    const id = await insert(store);
    worker.start();
    await vi.waitFor(() => expect(context(id)).toBeDefined());
    context(id)!.progress({ provider: "0x00000000000000000000000000000000000000aa" });
    context(id)!.progress({ progress: 0.8 });
    finish(id);
    await vi.waitFor(async () => expect((await store.get(id))?.job.state).toBe(JobState.SUCCEEDED));
    expect(update).not.toHaveBeenCalled();
  });

  it("at its end, a job writes the hints its end does not record: a stage, a failed job's provider", async () => {
    const { store, worker, context, finish, failWith } = setup(2, undefined, { progressIntervalMs: 60_000 });
    const [done, failed] = [await insert(store), await insert(store)];
    worker.start();
    await vi.waitFor(() => expect(context(failed)).toBeDefined());
    context(done)!.progress({ progress: 1, stage: "Finished", message: "model delivered" });
    context(failed)!.progress({ provider: "0x00000000000000000000000000000000000000bb", progress: 0.5 });
    finish(done);
    failWith(failed, new BackendError(FailureReason.PROVIDER_ERROR, "down"));
    await vi.waitFor(async () => expect((await store.get(failed))?.job.state).toBe(JobState.FAILED));
    await vi.waitFor(async () => expect((await store.get(done))?.job.state).toBe(JobState.SUCCEEDED));
    expect((await store.get(done))?.job).toMatchObject({ stage: "Finished" });
    expect((await store.get(failed))?.job).toMatchObject({
      providerAddress: "0x00000000000000000000000000000000000000bb",
      progress: 0.5,
    });
  });

  it("a long job's progress is written at most once per interval, the hints between merged", async () => {
    const { store, worker, context, finish } = setup(1, undefined, { progressIntervalMs: 200 });
    const update = vi.spyOn(store, "update");
    const id = await insert(store);
    worker.start();
    await vi.waitFor(() => expect(context(id)).toBeDefined());
    const started = Date.now();
    context(id)!.progress({ progress: 0.1 });
    await vi.waitFor(() => expect(update).toHaveBeenCalledTimes(1));
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    const firstAt = Date.now();
    context(id)!.progress({ progress: 0.2 });
    context(id)!.progress({ progress: 0.3 });
    await vi.waitFor(() => expect(update).toHaveBeenCalledTimes(2));
    expect(Date.now() - firstAt).toBeGreaterThanOrEqual(150);
    expect(update.mock.calls[1]![2]).toEqual({ progress: 0.3 });
    // A stage is written at once, with the hints waiting.
    context(id)!.progress({ progress: 0.4 });
    const stagedAt = Date.now();
    context(id)!.progress({ stage: "Training", message: "step 2" });
    await vi.waitFor(() => expect(update).toHaveBeenCalledTimes(3));
    expect(Date.now() - stagedAt).toBeLessThan(150);
    expect(update.mock.calls[2]![2]).toEqual({ progress: 0.4, stage: "Training", message: "step 2" });
    expect((await store.get(id))?.job).toMatchObject({ progress: 0.4, stage: "Training" });
    // A hint given just before the end is dropped, not written after it.
    context(id)!.progress({ progress: 0.9 });
    finish(id);
    await vi.waitFor(async () => expect((await store.get(id))?.job.state).toBe(JobState.SUCCEEDED));
    await new Promise((r) => setTimeout(r, 300));
    expect(update).toHaveBeenCalledTimes(3);
  });
});

describe("Worker: checkpoints", () => {
  it("hands the backend a durable checkpoint and, after a restart, the last one as resumeFrom", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "zerog-worker-")), "jobs.db");
    const first = setup(1, new SqliteJobStore(path), { progressIntervalMs: 0 });
    const id = await insert(first.store);
    first.worker.start();
    await vi.waitFor(() => expect(first.context(id)).toBeDefined());
    const ctx = first.context(id)!;
    expect(ctx.resumeFrom).toBeUndefined();
    ctx.progress({ progress: 0.3, stage: "Training", message: "training, step 1 of 4" });
    await ctx.checkpoint({ kind: "test", step: 1 });
    await ctx.checkpoint({ kind: "test", step: 2 });
    await vi.waitFor(async () =>
      expect((await first.store.get(id))?.job).toMatchObject({
        stage: "Training",
        message: "training, step 1 of 4",
      }),
    );
    await first.store.close(); // the bridge dies with the job running
    workers.splice(workers.indexOf(first.worker), 1);

    const second = setup(1, new SqliteJobStore(path));
    second.worker.start();
    await vi.waitFor(() => expect(second.context(id)).toBeDefined());
    expect(second.context(id)!.resumeFrom).toEqual({ kind: "test", step: 2 });
    expect((await second.store.get(id))?.job.attempts).toBe(2);
    second.finish(id);
    await vi.waitFor(async () => expect((await second.store.get(id))?.job.state).toBe(JobState.SUCCEEDED));
  });

  it("a checkpoint of a job cancelled meanwhile rejects with the cancellation", async () => {
    const { store, worker, context } = setup(1);
    const id = await insert(store);
    worker.start();
    await vi.waitFor(() => expect(context(id)).toBeDefined());
    await worker.cancel(id);
    await expect(context(id)!.checkpoint({ kind: "late" })).rejects.toBe("cancelled");
  });

  it("a checkpoint of a job no longer this attempt's rejects, and stops the run", async () => {
    const { store, worker, context } = setup(1);
    const id = await insert(store);
    worker.start();
    await vi.waitFor(() => expect(context(id)).toBeDefined());
    // Another attempt has the job now (as after a takeover).
    await store.releaseExpired(5, { all: true });
    await store.claim("bridge-b", 1, minute);
    await expect(context(id)!.checkpoint({ kind: "late" })).rejects.toThrow("no longer this bridge's to run");
    expect(context(id)!.signal.aborted).toBe(true);
    await vi.waitFor(() => expect(worker.runningCount).toBe(0));
    expect((await store.get(id))?.job).toMatchObject({ state: JobState.RUNNING, attempts: 2 });
  });
});

describe("Workers of several bridges on one Postgres", () => {
  const server = usePostgres();
  const stores: JobStore[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    for (const w of workers.splice(0)) await w.stop(0);
    for (const s of stores.splice(0)) await s.close();
  });
  async function bridges(count: number, options: { leaseMs?: number } = {}) {
    const url = await server().createDatabase();
    const out = [];
    for (let i = 0; i < count; i++) {
      const store = await PostgresJobStore.open({ url });
      stores.push(store);
      const bridge = setup(4, store, { owner: `bridge-${i}`, pollMs: 50, ...options });
      // As the bridge does: probe a store with a problem, resume the worker when it is over.
      store.attach({
        onChange: (change) => bridge.events.publish(change),
        onStorage: (problem) => {
          if (!problem) void bridge.worker.resume();
        },
      });
      const probe = setInterval(() => void (store.problem && store.probe()), 200);
      stops.push(() => clearInterval(probe));
      out.push(bridge);
    }
    return out;
  }

  it("shares the queue: each job runs once, on one of them", async () => {
    const [a, b] = await bridges(2);
    const ids = await Promise.all(Array.from({ length: 8 }, () => insert(a!.store)));
    a!.worker.start();
    b!.worker.start();
    await vi.waitFor(() => expect(a!.started.length + b!.started.length).toBe(8));
    expect(new Set([...a!.started, ...b!.started])).toEqual(new Set(ids));
    for (const id of a!.started) a!.finish(id);
    for (const id of b!.started) b!.finish(id);
    await vi.waitFor(async () => expect((await a!.store.counts()).get(JobState.SUCCEEDED)).toBe(8));
  });

  it("keeps a job that runs longer than its lease (renewed), and takes over the job of a bridge that stopped renewing", async () => {
    const [a, b] = await bridges(2, { leaseMs: 300 });
    const id = await insert(a!.store);
    a!.worker.start();
    await vi.waitFor(() => expect(a!.started).toEqual([id]));
    b!.worker.start();
    // Three leases later, still a's.
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(b!.started).toEqual([]);
    expect((await a!.store.get(id))?.job.attempts).toBe(1);
    // a dies: its store connection goes, nothing renews; b takes the job over.
    workers.splice(workers.indexOf(a!.worker), 1);
    await a!.store.close();
    stores.splice(stores.indexOf(a!.store), 1);
    await vi.waitFor(() => expect(b!.started).toEqual([id]), { timeout: 10_000 });
    expect((await b!.store.get(id))?.job.attempts).toBe(2);
    b!.finish(id);
    await vi.waitFor(async () => expect((await b!.store.get(id))?.job.state).toBe(JobState.SUCCEEDED));
  });

  it("runs a job leased to it that it never started (a claim whose answer was lost)", async () => {
    const [a] = await bridges(1, { leaseMs: 600 });
    const id = await insert(a!.store);
    await a!.store.claim("bridge-0", 1, 600); // committed, but the worker never heard of it
    a!.worker.start();
    await vi.waitFor(() => expect(a!.started).toEqual([id]), { timeout: 5000 });
    a!.finish(id);
    await vi.waitFor(async () => expect((await a!.store.get(id))?.job.state).toBe(JobState.SUCCEEDED));
  });

  it("after the database was down for longer than a lease, no live bridge's job is taken for dead", async () => {
    const [a, b] = await bridges(2, { leaseMs: 600 });
    const ids = await Promise.all(Array.from({ length: 6 }, () => insert(a!.store)));
    a!.worker.start();
    b!.worker.start();
    await vi.waitFor(() => expect(a!.started.length + b!.started.length).toBe(6));
    await server().stop();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await server().start();
    for (const w of [a!, b!])
      await vi.waitFor(() => expect(w.store.problem).toBeUndefined(), { timeout: 10_000 });
    // Several lease periods later, each job is still with its first bridge, on its first attempt.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const id of ids) expect((await a!.store.get(id))?.job.attempts).toBe(1);
    expect(a!.started.length + b!.started.length).toBe(6);
  });

  it("stops a run when another bridge cancels its job", async () => {
    const [a, b] = await bridges(2);
    const id = await insert(a!.store);
    a!.worker.start();
    await vi.waitFor(() => expect(a!.started).toEqual([id]));
    expect(await b!.worker.cancel(id)).toBe(true);
    await vi.waitFor(() => expect(a!.worker.runningCount).toBe(0));
    expect((await a!.store.get(id))?.job.state).toBe(JobState.CANCELLED);
  });
});
