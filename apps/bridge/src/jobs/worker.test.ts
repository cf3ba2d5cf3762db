import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { ComputeTaskSchema, FailureReason, JobState, TaskType } from "@chaoschain/zerog-core";
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { controllableBackend } from "../../test/fake-backend.js";
import { BackendError } from "../backend.js";
import { JobEvents } from "./job-events.js";
import { JobStore } from "./job-store.js";
import { StorageError } from "./storage-error.js";
import { Worker } from "./worker.js";

const task = create(ComputeTaskSchema, { taskType: TaskType.INFERENCE, model: "m", inputs: { prompt: "p" } });

function setup(concurrency = 2, store = new JobStore(":memory:")) {
  const events = new JobEvents();
  const fake = controllableBackend();
  const worker = new Worker({
    store,
    events,
    backend: fake.backend,
    logger: pino({ level: "silent" }),
    concurrency,
    maxAttempts: 2,
  });
  return { store, worker, ...fake };
}

describe("Worker", () => {
  it("runs at most `concurrency` jobs and starts the next when one ends", async () => {
    const { store, worker, started, finish } = setup(2);
    const ids = [1, 2, 3].map(() => store.insert(task, "").record.job.jobId);
    worker.start();
    await vi.waitFor(() => expect(started).toEqual([ids[0], ids[1]]));
    finish(ids[0]!);
    await vi.waitFor(() => expect(started).toEqual(ids));
    expect(store.get(ids[0]!)?.job.state).toBe(JobState.SUCCEEDED);
    expect(store.result(ids[0]!)?.output).toBe(`done ${ids[0]}`);
  });

  it("fails a job with the backend's reason, and hides unexpected errors", async () => {
    const { store, worker, failWith } = setup(2);
    const [a, b] = [1, 2].map(() => store.insert(task, "").record.job.jobId) as [string, string];
    worker.start();
    await vi.waitFor(() => expect(worker.runningCount).toBe(2));
    failWith(a, new BackendError(FailureReason.PROOF_INVALID, "bad signature"));
    failWith(b, new Error("secret internal detail"));
    await vi.waitFor(() => expect(worker.runningCount).toBe(0));
    expect(store.get(a)?.job.error).toMatchObject({
      reason: FailureReason.PROOF_INVALID,
      message: "bad signature",
    });
    expect(store.get(b)?.job.error?.reason).toBe(FailureReason.INTERNAL);
    expect(store.get(b)?.job.error?.message).not.toContain("secret");
  });

  it("cancels a running job and does not overwrite the cancellation", async () => {
    const { store, worker } = setup(1);
    const id = store.insert(task, "").record.job.jobId;
    worker.start();
    await vi.waitFor(() => expect(worker.runningCount).toBe(1));
    expect(worker.cancel(id)).toBe(true);
    await vi.waitFor(() => expect(worker.runningCount).toBe(0));
    expect(store.get(id)?.job.state).toBe(JobState.CANCELLED);
    expect(worker.cancel(id)).toBe(false);
  });

  it("requeues running jobs at shutdown and resumes them at the next start", async () => {
    const store = new JobStore(":memory:");
    const first = setup(1, store);
    const id = store.insert(task, "").record.job.jobId;
    first.worker.start();
    await vi.waitFor(() => expect(first.started).toEqual([id]));
    await first.worker.stop(20);
    expect(store.get(id)?.job.state).toBe(JobState.QUEUED);
    const second = setup(1, store);
    second.worker.start();
    await vi.waitFor(() => expect(second.started).toEqual([id]));
    expect(store.get(id)?.job.attempts).toBe(2);
  });

  it("fails a job left running by a crash once it has used its attempts", async () => {
    const store = new JobStore(":memory:");
    const id = store.insert(task, "").record.job.jobId;
    store.startNext();
    store.requeue(id);
    store.startNext(); // attempt 2, then the bridge "crashes"
    const { worker, started } = setup(1, store);
    worker.start();
    expect(started).toEqual([]);
    expect(store.get(id)?.job.error?.reason).toBe(FailureReason.INTERRUPTED);
  });

  it("keeps the outcome of a job the store cannot record, and records it at resume()", async () => {
    const { store, worker, finish } = setup(1);
    const id = store.insert(task, "").record.job.jobId;
    const full = new StorageError("full", "SQLITE_FULL", "jobs.db", "cannot write the job store jobs.db");
    const succeed = vi.spyOn(store, "succeed").mockImplementationOnce(() => {
      throw full;
    });
    worker.start();
    await vi.waitFor(() => expect(worker.runningCount).toBe(1));
    finish(id);
    await vi.waitFor(() => expect(worker.runningCount).toBe(0));
    expect(succeed).toHaveBeenCalledTimes(1);
    expect(store.get(id)?.job.state).toBe(JobState.RUNNING);
    worker.resume();
    expect(store.get(id)?.job.state).toBe(JobState.SUCCEEDED);
    expect(store.result(id)?.output).toBe(`done ${id}`);
  });

  it("leaves jobs queued while none can be started, and starts them at resume()", async () => {
    const { store, worker, started } = setup(2);
    const ids = [1, 2].map(() => store.insert(task, "").record.job.jobId);
    const startNext = vi.spyOn(store, "startNext").mockImplementation(() => {
      throw new StorageError("full", "SQLITE_FULL", "jobs.db", "full");
    });
    worker.start();
    expect(started).toEqual([]);
    expect(ids.map((id) => store.get(id)?.job.state)).toEqual([JobState.QUEUED, JobState.QUEUED]);
    startNext.mockRestore();
    worker.resume();
    await vi.waitFor(() => expect(started).toEqual(ids));
  });

  it("hands the backend a durable checkpoint and, after a restart, the last one as resumeFrom", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "zerog-worker-")), "jobs.db");
    const first = setup(1, new JobStore(path));
    const id = first.store.insert(task, "").record.job.jobId;
    first.worker.start();
    await vi.waitFor(() => expect(first.context(id)).toBeDefined());
    const ctx = first.context(id)!;
    expect(ctx.resumeFrom).toBeUndefined();
    ctx.progress({ progress: 0.3, stage: "Training", message: "training, step 1 of 4" });
    await ctx.checkpoint({ kind: "test", step: 1 });
    await ctx.checkpoint({ kind: "test", step: 2 });
    expect(first.store.get(id)?.job).toMatchObject({ stage: "Training", message: "training, step 1 of 4" });
    first.store.close(); // the bridge dies with the job running

    const second = setup(1, new JobStore(path));
    second.worker.start();
    await vi.waitFor(() => expect(second.context(id)).toBeDefined());
    expect(second.context(id)!.resumeFrom).toEqual({ kind: "test", step: 2 });
    expect(second.store.get(id)?.job.attempts).toBe(2);
    second.finish(id);
    await vi.waitFor(() => expect(second.store.get(id)?.job.state).toBe(JobState.SUCCEEDED));
  });

  it("a checkpoint of a job cancelled meanwhile rejects with the cancellation", async () => {
    const { store, worker, context } = setup(1);
    const id = store.insert(task, "").record.job.jobId;
    worker.start();
    await vi.waitFor(() => expect(context(id)).toBeDefined());
    worker.cancel(id);
    await expect(context(id)!.checkpoint({ kind: "late" })).rejects.toBe("cancelled");
  });
});
