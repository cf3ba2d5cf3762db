import { randomBytes } from "node:crypto";
import { closeSync, fdatasync, openSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type ComputeResult,
  ComputeResultSchema,
  type ComputeTask,
  ComputeTaskSchema,
  type FailureReason,
  type Job,
  JobSchema,
  JobState,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type Database from "better-sqlite3";
import type { JobCheckpoint } from "../backend.js";
import { openDatabase, probeSql } from "./open-database.js";
import { StorageError, toStorageError } from "./storage-error.js";

/** A job as stored: the wire `Job` plus what only the bridge needs. */
export interface JobRecord {
  job: Job;
  task: ComputeTask;
  idempotencyKey: string;
  /** The backend's last checkpoint of the job (JSON), for resuming it after a restart. */
  checkpoint: JobCheckpoint | undefined;
}

/** What a running job's `update` may change. */
export interface JobPatch {
  progress?: number | undefined;
  provider?: string | undefined;
  stage?: string | undefined;
  message?: string | undefined;
}

export interface ListJobsQuery {
  states: JobState[];
  pageSize: number;
  /** Only jobs older than this position (from a previous page). */
  before?: number | undefined;
}

const schema = `
CREATE TABLE IF NOT EXISTS jobs (
  seq             INTEGER PRIMARY KEY AUTOINCREMENT,
  id              TEXT NOT NULL UNIQUE,
  idempotency_key TEXT UNIQUE,
  state           INTEGER NOT NULL,
  task            BLOB NOT NULL,
  task_type       INTEGER NOT NULL,
  model           TEXT NOT NULL,
  progress        REAL NOT NULL DEFAULT 0,
  provider        TEXT NOT NULL DEFAULT '',
  attempts        INTEGER NOT NULL DEFAULT 0,
  error_reason    INTEGER NOT NULL DEFAULT 0,
  error_message   TEXT NOT NULL DEFAULT '',
  result          BLOB,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  started_at      INTEGER,
  ended_at        INTEGER,
  stage           TEXT NOT NULL DEFAULT '',
  message         TEXT NOT NULL DEFAULT '',
  checkpoint      TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS bridge_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

interface Row {
  seq: number;
  id: string;
  idempotency_key: string | null;
  state: number;
  task: Buffer;
  task_type: number;
  model: string;
  progress: number;
  provider: string;
  attempts: number;
  error_reason: number;
  error_message: string;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
  stage: string;
  message: string;
  checkpoint: string | null;
}

/** Every column but the result: job reads never need the (large) result blob. */
const jobColumns =
  "seq, id, idempotency_key, state, task, task_type, model, progress, provider, attempts, " +
  "error_reason, error_message, created_at, updated_at, started_at, ended_at, stage, message, checkpoint";

/** Columns added after the first release, added to an older store when it is opened. */
const addedColumns = {
  stage: "TEXT NOT NULL DEFAULT ''",
  message: "TEXT NOT NULL DEFAULT ''",
  checkpoint: "TEXT",
} as const;

function migrate(db: Database.Database): void {
  const have = new Set((db.pragma("table_info(jobs)") as Array<{ name: string }>).map((c) => c.name));
  for (const [name, type] of Object.entries(addedColumns)) {
    if (!have.has(name)) db.exec(`ALTER TABLE jobs ADD COLUMN ${name} ${type}`);
  }
}

/** A stored checkpoint, or undefined when there is none or it is not a JSON object (never throws). */
function parseCheckpoint(text: string | null): JobCheckpoint | undefined {
  if (text === null) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as JobCheckpoint)
      : undefined;
  } catch {
    return undefined;
  }
}

const live = `state IN (${JobState.QUEUED}, ${JobState.RUNNING})`;

function newJobId(): string {
  return `job_${Date.now().toString(36)}${randomBytes(8).toString("hex")}`;
}

function toRecord(row: Row): JobRecord {
  const job = create(JobSchema, {
    jobId: row.id,
    state: row.state,
    progress: row.progress,
    providerAddress: row.provider,
    taskType: row.task_type,
    model: row.model,
    attempts: row.attempts,
    createTime: timestampFromMs(row.created_at),
    updateTime: timestampFromMs(row.updated_at),
    stage: row.stage,
    message: row.message,
  });
  if (row.started_at !== null) job.startTime = timestampFromMs(row.started_at);
  if (row.ended_at !== null) job.endTime = timestampFromMs(row.ended_at);
  if (row.error_reason !== 0 || row.error_message !== "") {
    job.error = {
      $typeName: "chaoschain.zerog.v1.JobError",
      reason: row.error_reason,
      message: row.error_message,
    };
  }
  return {
    job,
    task: fromBinary(ComputeTaskSchema, row.task),
    idempotencyKey: row.idempotency_key ?? "",
    checkpoint: parseCheckpoint(row.checkpoint),
  };
}

const fdatasyncAsync = promisify(fdatasync);
/** Free space a volume needs before the store counts as writable again after a failure. */
const minFreeBytes = 1024 * 1024;

export interface JobStoreOptions {
  /** Each committed change of a job (with the result, for a job that succeeded). */
  onChange?: (job: Job, result?: ComputeResult) => void;
  /**
   * The storage became unusable (a write or read failed: disk full, read-only, I/O error), or usable
   * again (`undefined`, after a write succeeded).
   */
  onStorage?: (problem: StorageError | undefined) => void;
}

/**
 * Jobs on disk in SQLite (WAL). Each write commits before its method returns, so it survives a crash of
 * the process; `durable()` then makes it survive a power cut too (group commit: one fsync of the WAL,
 * off the event loop, for every write made since the previous one). Answer a client only after
 * `durable()`. State changes go through guarded transitions (a terminal job never changes again), and
 * each change is reported to `onChange` (with the result, for a job that succeeded).
 *
 * Opening checks the file (see `openDatabase`) and throws a {@link StorageError} naming it when it cannot
 * be used. Afterwards a failing read or write throws a StorageError (the change is not made) and
 * `problem` holds it until `probe()` finds the store writable again.
 */
export class JobStore {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #onChange: (job: Job, result?: ComputeResult) => void;
  readonly #onStorage: (problem: StorageError | undefined) => void;
  #problem: StorageError | undefined;
  readonly #statements;
  readonly #walPath: string | undefined;
  #walFd: number | undefined;
  /** Writes committed so far, and how many of them are known to be on disk. */
  #writes = 0;
  #durableWrites = 0;
  #flushing: Promise<void> | undefined;
  #fsyncs = 0;

  constructor(path: string, options: JobStoreOptions = {}) {
    const opened = openDatabase(path, schema);
    this.#db = opened.db;
    try {
      migrate(this.#db);
    } catch (err) {
      this.#db.close();
      throw toStorageError(err, path, "open") ?? err;
    }
    this.#path = path;
    this.#problem = opened.full;
    this.#walPath = this.#db.memory ? undefined : `${this.#db.name}-wal`;
    this.#onChange = options.onChange ?? (() => {});
    this.#onStorage = options.onStorage ?? (() => {});
    const db = this.#db;
    this.#statements = {
      byId: db.prepare<[string], Row>(`SELECT ${jobColumns} FROM jobs WHERE id = ?`),
      byKey: db.prepare<[string], Row>(`SELECT ${jobColumns} FROM jobs WHERE idempotency_key = ?`),
      insert: db.prepare(
        `INSERT INTO jobs (id, idempotency_key, state, task, task_type, model, created_at, updated_at)
         VALUES (@id, @key, ${JobState.QUEUED}, @task, @taskType, @model, @now, @now)`,
      ),
      nextQueued: db.prepare<[], Row>(
        `SELECT ${jobColumns} FROM jobs WHERE state = ${JobState.QUEUED} ORDER BY seq LIMIT 1`,
      ),
      start: db.prepare(
        `UPDATE jobs SET state = ${JobState.RUNNING}, attempts = attempts + 1, started_at = COALESCE(started_at, @now),
         updated_at = @now WHERE id = @id AND state = ${JobState.QUEUED}`,
      ),
      update: db.prepare(
        `UPDATE jobs SET progress = COALESCE(@progress, progress), provider = COALESCE(@provider, provider),
         stage = COALESCE(@stage, stage), message = COALESCE(@message, message),
         updated_at = @now WHERE id = @id AND state = ${JobState.RUNNING}`,
      ),
      checkpoint: db.prepare(
        `UPDATE jobs SET checkpoint = @checkpoint WHERE id = @id AND state = ${JobState.RUNNING}`,
      ),
      succeed: db.prepare(
        `UPDATE jobs SET state = ${JobState.SUCCEEDED}, progress = 1, result = @result, provider = @provider,
         message = '', updated_at = @now, ended_at = @now WHERE id = @id AND state = ${JobState.RUNNING}`,
      ),
      end: db.prepare(
        `UPDATE jobs SET state = @state, error_reason = @reason, error_message = @message, message = '',
         updated_at = @now, ended_at = @now WHERE id = @id AND ${live}`,
      ),
      requeue: db.prepare(
        `UPDATE jobs SET state = ${JobState.QUEUED}, progress = 0, message = '', updated_at = @now
         WHERE id = @id AND state = ${JobState.RUNNING}`,
      ),
      result: db.prepare<[string], { result: Buffer | null }>("SELECT result FROM jobs WHERE id = ?"),
      running: db.prepare<[], Row>(
        `SELECT ${jobColumns} FROM jobs WHERE state = ${JobState.RUNNING} ORDER BY seq`,
      ),
      counts: db.prepare<[], { state: number; n: number }>(
        "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state",
      ),
      probe: db.prepare<[number]>(probeSql),
    };
  }

  /** Why the store cannot be used now (since a read or write failed); undefined when it can. */
  get problem(): StorageError | undefined {
    return this.#problem;
  }

  /**
   * Whether the store can be written now: its volume has at least 1 MiB free (not just the few bytes
   * a tiny write needs, which would make health flap) and a small write succeeds, which ends the problem.
   */
  probe(): boolean {
    if (this.#walPath !== undefined) {
      try {
        const { bavail, bsize } = statfsSync(dirname(this.#path));
        if (bavail * bsize < minFreeBytes) return false;
      } catch {
        // No statfs here: the write decides.
      }
    }
    try {
      this.#guard("write", () => this.#statements.probe.run(Date.now()));
    } catch (err) {
      if (err instanceof StorageError) return false;
      throw err;
    }
    if (this.#problem) {
      this.#problem = undefined;
      this.#onStorage(undefined);
    }
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
      const storage = toStorageError(err, this.#path, doing);
      if (!storage) throw err;
      if (this.#problem?.code !== storage.code) {
        this.#problem = storage;
        this.#onStorage(storage);
      }
      throw storage;
    }
  }

  /**
   * Stores a new queued job, or returns the job already created with `idempotencyKey`.
   * Throws `invalid_argument` when the key was used for a different task.
   */
  insert(task: ComputeTask, idempotencyKey: string): { record: JobRecord; created: boolean } {
    const tx = this.#db.transaction(() => {
      if (idempotencyKey !== "") {
        const existing = this.#statements.byKey.get(idempotencyKey);
        if (existing) {
          const record = toRecord(existing);
          if (!equals(ComputeTaskSchema, record.task, task)) {
            throw new ZeroGError(
              "invalid_argument",
              "idempotency_key was already used for a different task",
              {
                violations: [
                  {
                    field: "idempotency_key",
                    reason: "CONFLICT",
                    description: `already used by job ${record.job.jobId} with a different task; use a new key`,
                  },
                ],
              },
            );
          }
          return { record, created: false };
        }
      }
      const id = newJobId();
      this.#statements.insert.run({
        id,
        key: idempotencyKey === "" ? null : idempotencyKey,
        task: Buffer.from(toBinary(ComputeTaskSchema, task)),
        taskType: task.taskType,
        model: task.model,
        now: Date.now(),
      });
      return { record: this.#get(id)!, created: true };
    });
    const out = this.#guard("write", () => tx.immediate());
    if (out.created) this.#changed(out.record);
    return out;
  }

  get(id: string): JobRecord | undefined {
    return this.#get(id);
  }

  #get(id: string): JobRecord | undefined {
    const row = this.#guard("read", () => this.#statements.byId.get(id));
    return row ? toRecord(row) : undefined;
  }

  /** Moves the oldest queued job to running and returns it; undefined when none is queued. */
  startNext(): JobRecord | undefined {
    const tx = this.#db.transaction(() => {
      const row = this.#statements.nextQueued.get();
      if (!row) return undefined;
      this.#statements.start.run({ id: row.id, now: Date.now() });
      return this.#get(row.id);
    });
    return this.#changed(this.#guard("write", () => tx.immediate()));
  }

  /**
   * Records progress, stage, message or provider of a running job, given as last read or updated; returns
   * it updated (without reading it back) when it changed, undefined when the job was no longer running.
   */
  update(job: Job, patch: JobPatch): Job | undefined {
    const now = Date.now();
    const info = this.#guard("write", () =>
      this.#statements.update.run({
        id: job.jobId,
        progress: patch.progress ?? null,
        provider: patch.provider ?? null,
        stage: patch.stage ?? null,
        message: patch.message ?? null,
        now,
      }),
    );
    if (!info.changes) return undefined;
    const updated: Job = {
      ...job,
      progress: patch.progress ?? job.progress,
      providerAddress: patch.provider ?? job.providerAddress,
      stage: patch.stage ?? job.stage,
      message: patch.message ?? job.message,
      updateTime: timestampFromMs(now),
    };
    this.#report(updated);
    return updated;
  }

  /**
   * Stores a running job's checkpoint (JSON); returns false when the job was no longer running. Counts as
   * a write for `durable()`: resolve it before acting on what the checkpoint records.
   */
  checkpoint(id: string, state: JobCheckpoint): boolean {
    const checkpoint = JSON.stringify(state);
    const info = this.#guard("write", () => this.#statements.checkpoint.run({ id, checkpoint }));
    if (info.changes) this.#writes++;
    return info.changes > 0;
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

  /** Running → succeeded with its result. Returns false when the job was no longer running. */
  succeed(id: string, result: ComputeResult, provider: string): boolean {
    const info = this.#guard("write", () =>
      this.#statements.succeed.run({
        id,
        result: Buffer.from(toBinary(ComputeResultSchema, result)),
        provider,
        now: Date.now(),
      }),
    );
    if (info.changes) this.#changed(this.#get(id), result);
    return info.changes > 0;
  }

  /** Queued or running → failed. Returns false when the job had already ended. */
  fail(id: string, reason: FailureReason, message: string): boolean {
    return this.#end(id, JobState.FAILED, reason, message);
  }

  /** Queued or running → cancelled. Returns false when the job had already ended. */
  cancel(id: string, message = "cancelled by the client"): boolean {
    return this.#end(id, JobState.CANCELLED, 0, message);
  }

  #end(id: string, state: JobState, reason: FailureReason, message: string): boolean {
    const info = this.#guard("write", () =>
      this.#statements.end.run({ id, state, reason, message, now: Date.now() }),
    );
    if (info.changes) this.#changed(this.#get(id));
    return info.changes > 0;
  }

  /** Running → queued, to run again (after a shutdown or a restart). */
  requeue(id: string): boolean {
    const info = this.#guard("write", () => this.#statements.requeue.run({ id, now: Date.now() }));
    if (info.changes) this.#changed(this.#get(id));
    return info.changes > 0;
  }

  result(id: string): ComputeResult | undefined {
    const row = this.#guard("read", () => this.#statements.result.get(id));
    return row?.result ? fromBinary(ComputeResultSchema, row.result) : undefined;
  }

  /** Jobs that were running when the bridge last stopped. */
  running(): JobRecord[] {
    return this.#guard("read", () => this.#statements.running.all()).map(toRecord);
  }

  /** Newest first; returns the position to pass as `before` for the next page. */
  list(query: ListJobsQuery): { records: JobRecord[]; next: number | undefined } {
    const where: string[] = [];
    const params: number[] = [];
    if (query.states.length) {
      where.push(`state IN (${query.states.map(() => "?").join(", ")})`);
      params.push(...query.states);
    }
    if (query.before !== undefined) {
      where.push("seq < ?");
      params.push(query.before);
    }
    const sql = `SELECT ${jobColumns} FROM jobs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`;
    const rows = this.#guard("read", () =>
      this.#db.prepare<number[], Row>(sql).all(...params, query.pageSize + 1),
    );
    const page = rows.slice(0, query.pageSize);
    return {
      records: page.map(toRecord),
      next: rows.length > query.pageSize ? page.at(-1)?.seq : undefined,
    };
  }

  /** Number of jobs in each state. */
  counts(): Map<JobState, number> {
    return new Map(
      this.#guard("read", () => this.#statements.counts.all()).map((r) => [r.state as JobState, r.n]),
    );
  }

  close(): void {
    if (this.#walFd !== undefined) closeSync(this.#walFd);
    this.#walFd = undefined;
    this.#db.close();
  }

  #changed(record: JobRecord | undefined, result?: ComputeResult): JobRecord | undefined {
    if (record) this.#report(record.job, result);
    return record;
  }

  /** Counts a committed write and reports the job's new state. */
  #report(job: Job, result?: ComputeResult): void {
    this.#writes++;
    this.#onChange(job, result);
  }
}
