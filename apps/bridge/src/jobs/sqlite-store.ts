import { closeSync, fdatasync, openSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";
import {
  type ComputeResult,
  type ComputeTask,
  ComputeTaskSchema,
  type FailureReason,
  type Job,
  JobState,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type Database from "better-sqlite3";
import type { JobCheckpoint } from "../backend.js";
import {
  encoded,
  type JobRow,
  jobColumns,
  jobStatements,
  newJobId,
  quotaExceeded,
  type SqlDialect,
  sameTask,
  storablePatch,
  storableText,
  toRecord,
} from "./job-sql.js";
import {
  anonymousSubmitter,
  type ClaimedJob,
  type JobChange,
  type JobPatch,
  type JobRecord,
  type JobStore,
  type JobStoreHooks,
  type Lease,
  type ListJobsQuery,
  type ReleasedJobs,
  type Submitter,
} from "./job-store.js";
import { openDatabase } from "./open-database.js";
import { migrateSqlite } from "./sqlite-schema.js";
import { StorageError, toStorageError } from "./storage-error.js";
import { type PendingInsert, StoreBase } from "./store-base.js";
import { storedResult } from "./stored-results.js";

const fdatasyncAsync = promisify(fdatasync);
/** Free space a volume needs before the store counts as writable again after a failure. */
const minFreeBytes = 1024 * 1024;

/** SQLite's statements: payloads in their own table, the index of ended jobs named for the planner. */
export const sqliteDialect: SqlDialect = {
  skipLocked: "",
  notify: "",
  payloads: "table",
  endedIndex: " INDEXED BY jobs_ended",
};

/**
 * Jobs in one SQLite file (WAL), for one bridge. Inserts arriving together share one transaction (group
 * commit), each write commits to the WAL before its promise resolves, so it survives a crash of the
 * process, and `durable()` makes it survive a power cut too: one fsync of the WAL, off the event loop, for
 * every write made since the previous one.
 *
 * Opening checks the file (`openDatabase`: 0600, `PRAGMA quick_check`, a test write) and migrates its
 * schema (`sqlite-schema.ts`); it throws a {@link StorageError} naming the file when it cannot be used.
 */
export class SqliteJobStore extends StoreBase implements JobStore {
  readonly kind = "sqlite";
  readonly shared = false;
  readonly location: string;
  readonly #db: Database.Database;
  readonly #statements;
  readonly #list: ReturnType<typeof jobStatements>["list"];
  readonly #walPath: string | undefined;
  #walFd: number | undefined;
  /** Writes committed so far, and how many of them are known to be on disk. */
  #writes = 0;
  #durableWrites = 0;
  #flushing: Promise<void> | undefined;
  #fsyncs = 0;
  #pendingInserts: PendingInsert[] = [];
  /**
   * False once a claim found fewer queued jobs than it asked for, until a job is queued again: only this
   * bridge writes the file (unshared), so every job queued since is reported to `changed`, and the claim
   * that follows each job's end need not run a write transaction to find the queue empty.
   */
  #mayHaveQueued = true;

  /** Opens (creating it) the store at `path`; ":memory:" for a throwaway store. */
  constructor(path: string, hooks: JobStoreHooks = {}) {
    const statements = jobStatements(sqliteDialect);
    const opened = openDatabase(path, (db) => migrateSqlite(db, path), statements.probe);
    super(hooks, opened.full);
    this.#list = statements.list;
    const db = opened.db;
    this.#db = db;
    this.location = path;
    this.#walPath = db.memory ? undefined : `${db.name}-wal`;
    this.#statements = {
      byId: db.prepare<{ id: string }, JobRow>(statements.byId),
      byKey: db.prepare<{ key: string; keyId: string }, JobRow>(statements.byKey),
      // The row as stored (its task is in job_payloads): the new job's record, without reading it again.
      insert: db.prepare<Record<string, unknown>, JobRow>(
        `INSERT INTO jobs (id, idempotency_key, key_id, state, task, task_type, model, created_at, updated_at)
         VALUES (@id, @key, @keyId, ${JobState.QUEUED}, x'', @taskType, @model, @now, @now) RETURNING ${jobColumns}`,
      ),
      insertPayload: db.prepare<{ seq: number; task: Buffer }>(
        "INSERT INTO job_payloads (seq, task) VALUES (@seq, @task)",
      ),
      storeResult: db.prepare<{ seq: number; result: Buffer; hash: Buffer | null }>(statements.storeResult),
      storeAttestation: db.prepare<{ hash: Buffer; evidence: Buffer }>(statements.storeAttestation),
      attestation: db.prepare<{ hash: Uint8Array }, { evidence: Buffer }>(statements.attestation),
      claim: db.prepare<Record<string, unknown>, JobRow>(statements.claim),
      renew: db.prepare<Record<string, unknown>, { id: string }>(statements.renew),
      releaseExpired: db.prepare<Record<string, unknown>, JobRow>(statements.releaseExpired),
      update: db.prepare<Record<string, unknown>, { updated_at: number; version: number }>(statements.update),
      checkpoint: db.prepare<Record<string, unknown>, { id: string }>(statements.checkpoint),
      succeed: db.prepare<Record<string, unknown>, JobRow>(statements.succeed),
      fail: db.prepare<Record<string, unknown>, JobRow>(statements.fail),
      requeue: db.prepare<Record<string, unknown>, JobRow>(statements.requeue),
      cancel: db.prepare<Record<string, unknown>, JobRow>(statements.cancel),
      result: db.prepare<{ id: string }, { result: Buffer | null; attestation: Buffer | null }>(
        statements.result,
      ),
      counts: db.prepare<[], { state: number; n: number }>(statements.counts),
      inFlightOfKey: db.prepare<{ keyId: string }, { n: number }>(statements.inFlightOfKey),
      inFlightByKey: db.prepare<[], { key_id: string; n: number }>(statements.inFlightByKey),
      deleteEndedPayloads: db.prepare<{ before: number; limit: number }>(
        `DELETE FROM job_payloads WHERE seq IN (${statements.endedBefore})`,
      ),
      deleteEnded: db.prepare<{ before: number; limit: number }>(
        `DELETE FROM jobs WHERE seq IN (${statements.endedBefore})`,
      ),
      deleteUnusedAttestations: db.prepare<{ limit: number }>(
        `DELETE FROM attestations WHERE hash IN (${statements.unusedAttestations})`,
      ),
      probe: db.prepare<{ value: string }>(statements.probe),
    };
  }

  /**
   * Whether the store can be written now: its volume has at least 1 MiB free (not just the few bytes
   * a tiny write needs, which would make health flap) and a small write succeeds, which ends the problem.
   */
  async probe(): Promise<boolean> {
    if (this.#walPath !== undefined) {
      try {
        const { bavail, bsize } = statfsSync(dirname(this.location));
        if (bavail * bsize < minFreeBytes) return false;
      } catch {
        // No statfs here: the write decides.
      }
    }
    try {
      this.#guard("write", () => this.#statements.probe.run({ value: String(Date.now()) }));
    } catch (err) {
      if (err instanceof StorageError) return false;
      throw err;
    }
    this.recovered();
    return true;
  }

  /**
   * Runs one operation on the database: a storage failure becomes a {@link StorageError} and the
   * store's problem, which only a successful `probe()` ends (a lucky small write on a full disk does not).
   */
  #guard<T>(doing: "read" | "write", operation: () => T): T {
    try {
      return operation();
    } catch (err) {
      const storage = toStorageError(err, this.location, doing);
      throw storage ? this.failed(storage) : err;
    }
  }

  insert(
    task: ComputeTask,
    idempotencyKey: string,
    submitter: Submitter = anonymousSubmitter,
  ): Promise<{ record: JobRecord; created: boolean }> {
    return new Promise((resolve, reject) => {
      this.#pendingInserts.push({ task, key: idempotencyKey, submitter, resolve, reject });
      if (this.#pendingInserts.length === 1) setImmediate(() => this.#insertPending());
    });
  }

  /**
   * The inserts of one turn of the event loop, in one transaction (one commit for all). A submitter's
   * jobs in flight are counted in it, once per key, then with the jobs the batch adds.
   */
  #insertPending(): void {
    const batch = this.#pendingInserts;
    this.#pendingInserts = [];
    const outcomes: Array<{ record: JobRecord; created: boolean } | ZeroGError> = [];
    const inFlight = new Map<string, number>();
    const insertAll = this.#db.transaction(() => {
      outcomes.length = 0;
      inFlight.clear();
      const now = Date.now();
      for (const { task, key, submitter } of batch) {
        const existing = key === "" ? undefined : this.#statements.byKey.get({ key, keyId: submitter.keyId });
        if (existing) {
          try {
            outcomes.push({ record: sameTask(toRecord(existing), task), created: false });
          } catch (err) {
            if (!(err instanceof ZeroGError)) throw err;
            outcomes.push(err);
          }
          continue;
        }
        const max = submitter.maxInFlight;
        if (max !== undefined) {
          const { keyId } = submitter;
          const n = inFlight.get(keyId) ?? this.#statements.inFlightOfKey.get({ keyId })!.n;
          if (n >= max) {
            outcomes.push(quotaExceeded(keyId, max));
            continue;
          }
          inFlight.set(keyId, n + 1);
        }
        const row = this.#statements.insert.get({
          id: newJobId(),
          key: key === "" ? null : key,
          keyId: submitter.keyId,
          taskType: task.taskType,
          model: task.model,
          now,
        })!;
        const bytes = encoded(ComputeTaskSchema, task);
        this.#statements.insertPayload.run({ seq: row.seq, task: bytes });
        outcomes.push({ record: toRecord({ ...row, task: bytes }), created: true });
      }
    });
    try {
      this.#guard("write", () => insertAll.immediate());
    } catch (err) {
      for (const entry of batch) entry.reject(err);
      return;
    }
    for (const [i, entry] of batch.entries()) {
      const outcome = outcomes[i]!;
      if (outcome instanceof ZeroGError) {
        entry.reject(outcome);
        continue;
      }
      if (outcome.created) this.changed({ job: outcome.record.job, version: outcome.record.version });
      entry.resolve(outcome);
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const row = this.#guard("read", () => this.#statements.byId.get({ id }));
    return row ? toRecord(row) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<JobRecord[]> {
    const records: JobRecord[] = [];
    for (const id of ids) {
      const row = this.#guard("read", () => this.#statements.byId.get({ id }));
      if (row) records.push(toRecord(row));
    }
    return records;
  }

  async claim(owner: string, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
    if (!this.#mayHaveQueued) return [];
    const rows = this.#guard("write", () =>
      this.#statements.claim.all({ owner, limit, leaseMs, now: Date.now() }),
    );
    if (rows.length < limit) this.#mayHaveQueued = false;
    return this.claimed(rows);
  }

  async renew(owner: string, leaseMs: number): Promise<Set<string>> {
    const rows = this.#guard("write", () => this.#statements.renew.all({ owner, leaseMs, now: Date.now() }));
    return new Set(rows.map((r) => r.id));
  }

  async releaseExpired(maxAttempts: number, options: { all?: boolean } = {}): Promise<ReleasedJobs> {
    return this.released(
      this.#guard("write", () =>
        this.#statements.releaseExpired.all({ maxAttempts, all: options.all ? 1 : 0, now: Date.now() }),
      ),
    );
  }

  async update(job: Job, lease: Lease, requested: JobPatch): Promise<Job | undefined> {
    const patch = storablePatch(requested);
    const row = this.#guard("write", () =>
      this.#statements.update.get({
        id: job.jobId,
        ...lease,
        progress: patch.progress ?? null,
        provider: patch.provider ?? null,
        stage: patch.stage ?? null,
        message: patch.message ?? null,
        now: Date.now(),
      }),
    );
    return row ? this.updated(job, patch, row) : undefined;
  }

  async checkpoint(id: string, lease: Lease, state: JobCheckpoint): Promise<boolean> {
    const checkpoint = JSON.stringify(state);
    const row = this.#guard("write", () => this.#statements.checkpoint.get({ id, ...lease, checkpoint }));
    if (row) this.#writes++;
    return row !== undefined;
  }

  async succeed(id: string, lease: Lease, result: ComputeResult, provider: string): Promise<boolean> {
    const stored = storedResult(result);
    const { attestation } = stored;
    const succeed = this.#db.transaction(() => {
      const row = this.#statements.succeed.get({ id, ...lease, provider, now: Date.now() });
      if (row) {
        if (attestation) this.#statements.storeAttestation.run(attestation);
        this.#statements.storeResult.run({
          seq: row.seq,
          result: stored.result,
          hash: attestation?.hash ?? null,
        });
      }
      return row;
    });
    const row = this.#guard("write", () => succeed.immediate());
    if (row) this.succeeded(row, result, stored);
    return row !== undefined;
  }

  async fail(id: string, lease: Lease, reason: FailureReason, message: string): Promise<boolean> {
    return this.#end(this.#statements.fail, { id, ...lease, reason, errorMessage: storableText(message) });
  }

  async requeue(id: string, lease: Lease): Promise<boolean> {
    return this.#end(this.#statements.requeue, { id, ...lease });
  }

  async cancel(id: string, message = "cancelled by the client"): Promise<boolean> {
    return this.#end(this.#statements.cancel, { id, errorMessage: storableText(message) });
  }

  #end(
    statement: Database.Statement<Record<string, unknown>, JobRow>,
    params: Record<string, unknown>,
  ): boolean {
    const row = this.#guard("write", () => statement.get({ ...params, now: Date.now() }));
    if (row) this.changedRow(row);
    return row !== undefined;
  }

  async result(id: string): Promise<ComputeResult | undefined> {
    const row = this.#guard("read", () => this.#statements.result.get({ id }));
    return this.readStored(
      row,
      (hash) => this.#guard("read", () => this.#statements.attestation.get({ hash }))?.evidence,
    );
  }

  async list(query: ListJobsQuery): Promise<{ records: JobRecord[]; next: number | undefined }> {
    const { text, values } = this.#list(query, () => "?");
    const rows = this.#guard("read", () => this.#db.prepare<unknown[], JobRow>(text).all(...values));
    return this.page(rows, query.pageSize);
  }

  async counts(): Promise<Map<JobState, number>> {
    const rows = this.#guard("read", () => this.#statements.counts.all());
    return new Map(rows.map((r) => [r.state as JobState, r.n]));
  }

  async inFlightByKey(): Promise<Map<string, number>> {
    const rows = this.#guard("read", () => this.#statements.inFlightByKey.all());
    return new Map(rows.map((r) => [r.key_id, r.n]));
  }

  async deleteEnded(endedBefore: number, limit: number): Promise<number> {
    // The same jobs twice: nothing else writes between the two statements of one transaction.
    const deleteEnded = this.#db.transaction((params: { before: number; limit: number }) => {
      this.#statements.deleteEndedPayloads.run(params);
      return this.#statements.deleteEnded.run(params).changes;
    });
    return this.#guard("write", () => deleteEnded.immediate({ before: endedBefore, limit }));
  }

  /**
   * One statement, run while no other write is: `succeed` stores an attestation and the reference to it
   * in one synchronous transaction, so this never sees one without the other.
   */
  async deleteUnusedAttestations(limit: number): Promise<number> {
    return this.#guard("write", () => this.#statements.deleteUnusedAttestations.run({ limit }).changes);
  }

  /**
   * Resolves once every write committed before the call is on disk. Concurrent callers share one fsync
   * of the WAL file, which runs on the libuv thread pool: the event loop never waits for the disk.
   */
  durable(): Promise<void> {
    const target = this.#writes;
    if (this.#durableWrites >= target || this.#walPath === undefined) return Promise.resolve();
    return this.#flush().then(() => (this.#durableWrites >= target ? undefined : this.durable()));
  }

  /** fsyncs done by `durable()` so far. */
  get fsyncCount(): number {
    return this.#fsyncs;
  }

  #flush(): Promise<void> {
    this.#flushing ??= (async () => {
      const upTo = this.#writes;
      try {
        this.#walFd ??= openSync(this.#walPath!, "r+");
        this.#fsyncs++;
        await fdatasyncAsync(this.#walFd);
      } catch (err) {
        // Through #guard: the failure becomes the store's problem, the same as a failed write.
        this.#guard("write", () => {
          throw err;
        });
      }
      this.#durableWrites = Math.max(this.#durableWrites, upTo);
    })().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    if (this.#pendingInserts.length) this.#insertPending();
    if (this.#walFd !== undefined) closeSync(this.#walFd);
    this.#walFd = undefined;
    this.#db.close();
  }

  /** Counts a committed write (for `durable()`) and reports the job's new state. */
  protected override changed(change: JobChange): void {
    this.#writes++;
    if (change.job.state === JobState.QUEUED) this.#mayHaveQueued = true;
    super.changed(change);
  }
}
