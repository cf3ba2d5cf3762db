import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  ComputeResultSchema,
  ComputeTaskSchema,
  FailureReason,
  type Job,
  JobState,
  TaskType,
  ZeroGError,
} from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import { JobStore } from "./job-store.js";
import { StorageError } from "./storage-error.js";

const require = createRequire(import.meta.url);
const task = (prompt = "What is blockchain?") =>
  create(ComputeTaskSchema, { taskType: TaskType.INFERENCE, model: "llama-3-8b", inputs: { prompt } });
const tempDb = () => join(mkdtempSync(join(tmpdir(), "zerog-store-")), "jobs.db");

describe("JobStore", () => {
  it("stores a queued job and reads it back after reopening the file", () => {
    const path = tempDb();
    const store = new JobStore(path);
    const { record, created } = store.insert(task(), "");
    expect(created).toBe(true);
    expect(record.job.state).toBe(JobState.QUEUED);
    expect(record.job.jobId).toMatch(/^job_[0-9a-z]+$/);
    store.close();
    const reopened = new JobStore(path);
    const again = reopened.get(record.job.jobId);
    expect(again?.task.inputs?.prompt).toBe("What is blockchain?");
    expect(again?.job.model).toBe("llama-3-8b");
    reopened.close();
  });

  it("makes writes durable with one fsync of the WAL for all the writes made before it (group commit)", async () => {
    const store = new JobStore(tempDb());
    const ids = Array.from({ length: 10 }, (_, i) => store.insert(task(`q${i}`), "").record.job.jobId);
    await Promise.all(ids.map(() => store.durable()));
    expect(store.fsyncCount).toBe(1);
    await store.durable(); // nothing new to sync
    expect(store.fsyncCount).toBe(1);
    // Writes made while an fsync runs share the next one.
    store.startNext();
    const first = store.durable();
    store.startNext();
    const second = store.durable();
    store.startNext();
    await Promise.all([first, second, store.durable()]);
    expect(store.fsyncCount).toBe(3);
    // Reads and writes that change nothing need no fsync.
    store.update(store.get(ids[9]!)!.job, { progress: 0.5 }); // queued, not running: no change
    await store.durable();
    expect(store.fsyncCount).toBe(3);
    store.close();
    const memory = new JobStore(":memory:");
    memory.insert(task(), "");
    await memory.durable();
    expect(memory.fsyncCount).toBe(0);
    memory.close();
  });

  it("returns the same job for a repeated idempotency key and refuses the key for another task", () => {
    const store = new JobStore(":memory:");
    const first = store.insert(task(), "key-1");
    const second = store.insert(task(), "key-1");
    expect(second.created).toBe(false);
    expect(second.record.job.jobId).toBe(first.record.job.jobId);
    expect(() => store.insert(task("other"), "key-1")).toThrow(ZeroGError);
    expect(store.list({ states: [], pageSize: 10 }).records).toHaveLength(1);
  });

  it("moves jobs through guarded transitions and reports each change", () => {
    const changes: Job[] = [];
    const store = new JobStore(":memory:", { onChange: (job) => changes.push(job) });
    const id = store.insert(task(), "").record.job.jobId;
    const running = store.startNext()!.job;
    expect(running.state).toBe(JobState.RUNNING);
    // The job update returns is the job as stored.
    expect(store.update(running, { progress: 0.5, provider: "0xabc" })).toEqual(store.get(id)?.job);
    const result = create(ComputeResultSchema, { jobId: id, output: "42" });
    expect(store.succeed(id, result, "0xabc")).toBe(true);
    expect(store.fail(id, FailureReason.INTERNAL, "late")).toBe(false);
    expect(store.cancel(id)).toBe(false);
    expect(store.get(id)?.job.state).toBe(JobState.SUCCEEDED);
    expect(store.result(id)?.output).toBe("42");
    expect(changes.map((j) => j.state)).toEqual([
      JobState.QUEUED,
      JobState.RUNNING,
      JobState.RUNNING,
      JobState.SUCCEEDED,
    ]);
    expect(store.get(id)?.job.endTime).toBeDefined();
  });

  it("starts jobs oldest first and counts attempts across requeues", () => {
    const store = new JobStore(":memory:");
    const a = store.insert(task("a"), "").record.job.jobId;
    const b = store.insert(task("b"), "").record.job.jobId;
    expect(store.startNext()?.job.jobId).toBe(a);
    expect(store.requeue(a)).toBe(true);
    expect(store.startNext()?.job.jobId).toBe(a);
    expect(store.get(a)?.job.attempts).toBe(2);
    expect(store.startNext()?.job.jobId).toBe(b);
    expect(store.startNext()).toBeUndefined();
    expect(store.running().map((r) => r.job.jobId)).toEqual([a, b]);
  });

  it("records the failure reason and message", () => {
    const store = new JobStore(":memory:");
    const id = store.insert(task(), "").record.job.jobId;
    store.startNext();
    expect(store.fail(id, FailureReason.PROOF_INVALID, "signature mismatch")).toBe(true);
    expect(store.get(id)?.job.error).toMatchObject({
      reason: FailureReason.PROOF_INVALID,
      message: "signature mismatch",
    });
  });

  it("pages newest first and filters by state", () => {
    const store = new JobStore(":memory:");
    const ids = Array.from({ length: 5 }, (_, i) => store.insert(task(`p${i}`), "").record.job.jobId);
    store.startNext();
    const page1 = store.list({ states: [], pageSize: 2 });
    expect(page1.records.map((r) => r.job.jobId)).toEqual([ids[4], ids[3]]);
    const page2 = store.list({ states: [], pageSize: 2, before: page1.next });
    expect(page2.records.map((r) => r.job.jobId)).toEqual([ids[2], ids[1]]);
    const page3 = store.list({ states: [], pageSize: 2, before: page2.next });
    expect(page3.records.map((r) => r.job.jobId)).toEqual([ids[0]]);
    expect(page3.next).toBeUndefined();
    expect(store.list({ states: [JobState.RUNNING], pageSize: 10 }).records.map((r) => r.job.jobId)).toEqual([
      ids[0],
    ]);
    expect(store.counts().get(JobState.QUEUED)).toBe(4);
  });

  it("on a full volume: writes throw StorageError (reported once), reads work, probe() waits for room", (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "zerog-store-full-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir], { stdio: "pipe" });
    } catch (err) {
      console.warn(`skipped: cannot mount a tmpfs (${(err as Error).message.split("\n")[0]})`);
      return ctx.skip();
    }
    const reports: Array<string | undefined> = [];
    const store = new JobStore(join(dir, "jobs.db"), { onStorage: (p) => reports.push(p?.code) });
    try {
      const first = store.insert(task(), "").record.job.jobId;
      const filler = join(dir, "filler");
      writeFileSync(filler, Buffer.alloc(statfsSync(dir).bavail * statfsSync(dir).bsize - 64 * 1024));
      let refused: unknown;
      for (let i = 0; i < 100 && !refused; i++) {
        try {
          store.insert(task(`${i} ${"x".repeat(50_000)}`), "");
        } catch (err) {
          refused = err;
        }
      }
      expect(refused).toBeInstanceOf(StorageError);
      expect((refused as StorageError).problem).toBe("full");
      expect((refused as StorageError).message).toContain(join(dir, "jobs.db"));
      expect(() => store.insert(task("x".repeat(100_000)), "")).toThrow(StorageError);
      expect(reports).toEqual(["SQLITE_FULL"]);
      expect(store.problem?.code).toBe("SQLITE_FULL");
      expect(store.get(first)?.job.state).toBe(JobState.QUEUED);
      expect(store.probe()).toBe(false);
      rmSync(filler);
      expect(store.probe()).toBe(true);
      expect(store.problem).toBeUndefined();
      expect(reports).toEqual(["SQLITE_FULL", undefined]);
    } finally {
      store.close();
      execFileSync("umount", [dir]);
    }
  });

  it("refuses, naming the file, a file that is not a database; creates a new one readable by its owner only", () => {
    const path = tempDb();
    writeFileSync(path, "not a database ".repeat(100));
    expect(() => new JobStore(path)).toThrow(`the job store ${path}: it is not a SQLite database`);
    const fresh = tempDb();
    new JobStore(fresh).close();
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });
});

describe("JobStore: progress, stage and checkpoints of long jobs", () => {
  it("keeps a running job's stage, message and checkpoint across a reopen; an ended job's message clears", () => {
    const path = tempDb();
    const store = new JobStore(path);
    const id = store.insert(task(), "").record.job.jobId;
    const started = store.startNext()!;
    expect(started.checkpoint).toBeUndefined();
    store.update(started.job, { progress: 0.45, stage: "Training", message: "training, step 2 of 4" });
    expect(store.checkpoint(id, { kind: "fine-tuning", taskId: "t-1", status: "Training" })).toBe(true);
    store.close();
    const reopened = new JobStore(path);
    const [running] = reopened.running();
    expect(running?.job).toMatchObject({
      progress: 0.45,
      stage: "Training",
      message: "training, step 2 of 4",
    });
    expect(running?.checkpoint).toEqual({ kind: "fine-tuning", taskId: "t-1", status: "Training" });
    // Requeued after a restart: the checkpoint stays for the next run; the message is stale.
    reopened.requeue(id);
    expect(reopened.startNext()).toMatchObject({
      checkpoint: { taskId: "t-1" },
      job: { stage: "Training", message: "" },
    });
    reopened.fail(id, FailureReason.PROVIDER_ERROR, "failed");
    expect(reopened.get(id)?.job).toMatchObject({ stage: "Training", message: "" });
    expect(reopened.checkpoint(id, { kind: "x" })).toBe(false);
    reopened.close();
  });

  it("a checkpoint that is not a JSON object reads back as none", () => {
    const path = tempDb();
    const store = new JobStore(path);
    const id = store.insert(task(), "").record.job.jobId;
    store.startNext();
    store.close();
    execFileSync("node", [
      "-e",
      `const D=require(${JSON.stringify(require.resolve("better-sqlite3"))});const d=new D(${JSON.stringify(path)});d.prepare("UPDATE jobs SET checkpoint='[1' WHERE id=?").run(${JSON.stringify(id)});d.close()`,
    ]);
    const reopened = new JobStore(path);
    expect(reopened.running()[0]?.checkpoint).toBeUndefined();
    reopened.close();
  });

  it("opens a store written before stages and checkpoints existed, adding their columns", () => {
    const path = tempDb();
    execFileSync("node", [
      "-e",
      `const D=require(${JSON.stringify(require.resolve("better-sqlite3"))});const d=new D(${JSON.stringify(path)});` +
        "d.exec(`CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, idempotency_key TEXT UNIQUE, state INTEGER NOT NULL, task BLOB NOT NULL, task_type INTEGER NOT NULL, model TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, provider TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0, error_reason INTEGER NOT NULL DEFAULT 0, error_message TEXT NOT NULL DEFAULT '', result BLOB, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, started_at INTEGER, ended_at INTEGER)`);" +
        "d.prepare(\"INSERT INTO jobs (id, state, task, task_type, model, created_at, updated_at) VALUES ('job_old', 1, x'', 1, 'm', 1, 1)\").run();d.close()",
    ]);
    const store = new JobStore(path);
    expect(store.get("job_old")?.job).toMatchObject({ jobId: "job_old", stage: "", message: "" });
    expect(store.get("job_old")?.checkpoint).toBeUndefined();
    store.close();
  });
});
