import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toBinary } from "@bufbuild/protobuf";
import { ComputeTaskSchema, JobState } from "@chaoschain/zerog-core";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { inferenceTask, minute } from "../../test/stores.js";
import { jobStatements } from "./job-sql.js";
import { sqliteMigrations } from "./sqlite-schema.js";
import { SqliteJobStore, sqliteDialect } from "./sqlite-store.js";
import { StorageError } from "./storage-error.js";

// What only the SQLite store does; what both stores do is in job-store.test.ts.

const task = inferenceTask;
const tempDb = () => join(mkdtempSync(join(tmpdir(), "zerog-store-")), "jobs.db");

/** A store of the first release, before `schema_version`: the first step alone, as it created jobs.db. */
const firstRelease = (db: Database.Database) => sqliteMigrations[0]!.up(db);

describe("SqliteJobStore", () => {
  it("makes writes durable with one fsync of the WAL for all the writes made before it (group commit)", async () => {
    const store = new SqliteJobStore(tempDb());
    const ids = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => (await store.insert(task(`q${i}`), "")).record.job.jobId),
    );
    await Promise.all(ids.map(() => store.durable()));
    expect(store.fsyncCount).toBe(1);
    await store.durable(); // nothing new to sync
    expect(store.fsyncCount).toBe(1);
    // Writes made while an fsync runs share the next one.
    await store.claim("bridge", 1, minute);
    const first = store.durable();
    await store.claim("bridge", 1, minute);
    const second = store.durable();
    await store.claim("bridge", 1, minute);
    await Promise.all([first, second, store.durable()]);
    expect(store.fsyncCount).toBe(3);
    // Reads and writes that change nothing need no fsync.
    const queued = (await store.get(ids[9]!))!.job;
    await store.update(queued, { owner: "bridge", attempt: 1 }, { progress: 0.5 }); // queued: no change
    await store.renew("bridge", minute);
    await store.durable();
    expect(store.fsyncCount).toBe(3);
    await store.close();
    const memory = new SqliteJobStore(":memory:");
    await memory.insert(task(), "");
    await memory.durable();
    expect(memory.fsyncCount).toBe(0);
    await memory.close();
  });

  it("after a claim finds the queue empty, claims again each job queued since: inserted, requeued, released", async () => {
    const store = new SqliteJobStore(tempDb());
    const lease = { owner: "bridge", attempt: 1 };
    const first = (await store.insert(task("a"), "")).record.job.jobId;
    expect((await store.claim("bridge", 2, minute)).map((c) => c.job.jobId)).toEqual([first]);
    expect(await store.claim("bridge", 2, minute)).toEqual([]);
    // Inserted after the empty claim.
    const second = (await store.insert(task("b"), "")).record.job.jobId;
    expect((await store.claim("bridge", 1, minute)).map((c) => c.job.jobId)).toEqual([second]);
    // Requeued (a shutdown) after an empty claim.
    expect(await store.claim("bridge", 1, minute)).toEqual([]);
    expect(await store.requeue(first, lease)).toBe(true);
    const again = await store.claim("bridge", 1, minute);
    expect(again.map((c) => c.job.jobId)).toEqual([first]);
    // Released (the lease of a previous run) after an empty claim.
    expect(await store.claim("bridge", 1, minute)).toEqual([]);
    expect(await store.releaseExpired(5, { all: true })).toEqual({ requeued: [first, second], failed: [] });
    expect((await store.claim("bridge", 5, minute)).map((c) => c.job.jobId)).toEqual([first, second]);
    await store.close();
  });

  it("does not rewrite a large task when it updates its job (SQLite rewrites a blob an UPDATE returns)", async () => {
    const path = tempDb();
    const store = new SqliteJobStore(path);
    const id = (await store.insert(task("x".repeat(400_000)), "")).record.job.jobId;
    const wal = () => statSync(`${path}-wal`).size;
    const before = wal();
    const [claimed] = await store.claim("bridge", 1, minute);
    let job = claimed!.job;
    for (let i = 1; i <= 5; i++) job = (await store.update(job, claimed!.lease, { progress: i / 10 }))!;
    await store.checkpoint(id, claimed!.lease, { step: 1 });
    await store.renew("bridge", minute);
    await store.releaseExpired(3);
    expect(claimed!.task.inputs?.prompt).toHaveLength(400_000);
    // Nine small writes: a few pages each, not 400 kB each.
    expect(wal() - before).toBeLessThan(100_000);
    await store.close();
  });

  it("upgrades a store of the first release, recording each schema version; its running jobs are released at start", async () => {
    const path = tempDb();
    const old = new Database(path);
    firstRelease(old);
    old
      .prepare(
        "INSERT INTO jobs (id, idempotency_key, state, task, task_type, model, attempts, created_at, updated_at) VALUES (?, ?, ?, ?, 1, 'llama-3-8b', ?, 1, 2)",
      )
      .run(
        "job_old_running",
        "key-old",
        JobState.RUNNING,
        Buffer.from(toBinary(ComputeTaskSchema, task("old"))),
        1,
      );
    old
      .prepare(
        "INSERT INTO jobs (id, state, task, task_type, model, created_at, updated_at) VALUES ('job_old_queued', 1, x'', 1, 'm', 3, 3)",
      )
      .run();
    old.close();
    const store = new SqliteJobStore(path);
    expect((await store.get("job_old_running"))?.task.inputs?.prompt).toBe("old");
    expect((await store.get("job_old_running"))?.job).toMatchObject({
      state: JobState.RUNNING,
      attempts: 1,
      stage: "",
      message: "",
    });
    // A job left running by the old bridge holds no lease: released at start like any other.
    expect(await store.releaseExpired(3)).toEqual({ requeued: ["job_old_running"], failed: [] });
    const claimed = await store.claim("bridge", 5, minute);
    expect(claimed.map((j) => [j.job.jobId, j.lease.attempt])).toEqual([
      ["job_old_running", 2],
      ["job_old_queued", 1],
    ]);
    expect((await store.insert(task(), "key-new")).created).toBe(true);
    expect((await store.insert(task("old"), "key-old")).created).toBe(false);
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT version, name FROM schema_version ORDER BY version").all()).toEqual([
      { version: 1, name: "jobs (found)" },
      { version: 2, name: "stages, messages and checkpoints of long jobs" },
      { version: 3, name: "leases and change versions" },
      { version: 4, name: "tasks and results beside their jobs" },
      { version: 5, name: "attestations stored once" },
      { version: 6, name: "the key id of each job, for the in-flight jobs quota" },
      { version: 7, name: "job retention: ended jobs by end time, results by attestation" },
      { version: 8, name: "idempotency keys per key id, and each key's jobs listed by position" },
    ]);
    // The quota's count reads the partial index of the jobs queued or running.
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${jobStatements(sqliteDialect).inFlightOfKey}`).all({
      keyId: "agent-a",
    });
    expect(JSON.stringify(plan)).toMatch(/USING COVERING INDEX jobs_live_by_key \(key_id=\? AND state=\?\)/);
    // A key's ListJobs page reads that key's jobs, and those without a key id, from jobs_by_key; a
    // Submit's idempotency key is looked up in jobs_by_key_idempotency.
    const statements = jobStatements(sqliteDialect);
    for (const query of [
      { states: [], pageSize: 50, keyId: "agent-a" },
      { states: [JobState.SUCCEEDED, JobState.FAILED], pageSize: 50, keyId: "agent-a", before: 1000 },
    ]) {
      const { text, values } = statements.list(query, () => "?");
      const details = (db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...values) as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join("\n");
      expect(details.match(/SEARCH jobs USING (COVERING )?INDEX jobs_by_key \(key_id=\?/g)).toHaveLength(2);
      expect(details).not.toMatch(/SCAN jobs|TEMP B-TREE/);
    }
    const byKey = db.prepare(`EXPLAIN QUERY PLAN ${statements.byKey}`).all({ key: "k", keyId: "agent-a" });
    expect(JSON.stringify(byKey)).toMatch(/jobs_by_key_idempotency \(key_id=\? AND idempotency_key=\?\)/);
    db.close();
    // Opening again changes nothing.
    await new SqliteJobStore(path).close();
  });

  it("upgrades a store that already has the stage and checkpoint columns but no schema_version", async () => {
    const path = tempDb();
    const old = new Database(path);
    firstRelease(old);
    old.exec(
      "ALTER TABLE jobs ADD COLUMN stage TEXT NOT NULL DEFAULT ''; ALTER TABLE jobs ADD COLUMN message TEXT NOT NULL DEFAULT ''; ALTER TABLE jobs ADD COLUMN checkpoint TEXT",
    );
    old
      .prepare(
        `INSERT INTO jobs (id, state, task, task_type, model, created_at, updated_at, stage, checkpoint) VALUES ('job_ft', 2, x'', 3, 'm', 1, 1, 'Training', '{"taskId":"t-1"}')`,
      )
      .run();
    old.close();
    const store = new SqliteJobStore(path);
    expect(await store.get("job_ft")).toMatchObject({
      job: { stage: "Training" },
      checkpoint: { taskId: "t-1" },
    });
    await store.close();
  });

  it("refuses a store written by a newer bridge, naming the versions", () => {
    const path = tempDb();
    new SqliteJobStore(path).close();
    const db = new Database(path);
    db.prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'future', 0)").run();
    db.close();
    expect(() => new SqliteJobStore(path)).toThrow(
      `the job store ${path} has schema version 99, newer than this bridge knows (8)`,
    );
  });

  it("on a full volume: writes reject with StorageError (reported once), reads work, probe() waits for room", async (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), "zerog-store-full-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir], { stdio: "pipe" });
    } catch (err) {
      console.warn(`skipped: cannot mount a tmpfs (${(err as Error).message.split("\n")[0]})`);
      return ctx.skip();
    }
    const reports: Array<string | undefined> = [];
    const store = new SqliteJobStore(join(dir, "jobs.db"), { onStorage: (p) => reports.push(p?.code) });
    try {
      const first = (await store.insert(task(), "")).record.job.jobId;
      const filler = join(dir, "filler");
      writeFileSync(filler, Buffer.alloc(statfsSync(dir).bavail * statfsSync(dir).bsize - 64 * 1024));
      let refused: unknown;
      for (let i = 0; i < 100 && !refused; i++) {
        await store.insert(task(`${i} ${"x".repeat(50_000)}`), "").catch((err: unknown) => {
          refused = err;
        });
      }
      expect(refused).toBeInstanceOf(StorageError);
      expect((refused as StorageError).problem).toBe("full");
      expect((refused as StorageError).message).toContain(join(dir, "jobs.db"));
      await expect(store.insert(task("x".repeat(100_000)), "")).rejects.toThrow(StorageError);
      expect(reports).toEqual(["SQLITE_FULL"]);
      expect(store.problem?.code).toBe("SQLITE_FULL");
      expect((await store.get(first))?.job.state).toBe(JobState.QUEUED);
      expect(await store.probe()).toBe(false);
      rmSync(filler);
      expect(await store.probe()).toBe(true);
      expect(store.problem).toBeUndefined();
      expect(reports).toEqual(["SQLITE_FULL", undefined]);
    } finally {
      await store.close();
      execFileSync("umount", [dir]);
    }
  });

  it("refuses, naming the file, a file that is not a database; creates a new one readable by its owner only", async () => {
    const path = tempDb();
    writeFileSync(path, "not a database ".repeat(100));
    expect(() => new SqliteJobStore(path)).toThrow(`the job store ${path}: it is not a SQLite database`);
    const fresh = tempDb();
    await new SqliteJobStore(fresh).close();
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
  });
});
