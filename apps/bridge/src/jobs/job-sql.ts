import {
  create,
  type DescMessage,
  equals,
  fromBinary,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type ComputeTask,
  ComputeTaskSchema,
  FailureReason,
  JobSchema,
  JobState,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type { JobCheckpoint } from "../backend.js";
import { randomHex } from "../random-hex.js";
import type { ClaimedJob, JobPatch, JobRecord, ListJobsQuery } from "./job-store.js";

// The SQL both stores run, written once. Parameters are `@name` (better-sqlite3's syntax; the Postgres
// store numbers them), and `@now` is the time in ms: the caller's clock for SQLite, the database's for
// Postgres, so that the leases of bridges on several machines are judged by one clock.

/** A row of `jobs`, without the result. */
export interface JobRow {
  seq: number;
  id: string;
  idempotency_key: string | null;
  state: number;
  task: Uint8Array;
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
  lease_owner: string | null;
  version: number;
  key_id: string | null;
}

/** Every column but the result: job reads never need the (large) result blob. */
export const jobColumns =
  "seq, id, idempotency_key, state, task, task_type, model, progress, provider, attempts, error_reason, " +
  "error_message, created_at, updated_at, started_at, ended_at, stage, message, checkpoint, lease_owner, version, key_id";

const { QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED } = JobState;
/** A job queued or running: one that holds a place in its key's in-flight jobs quota. */
export const live = `state IN (${QUEUED}, ${RUNNING})`;
/** A job that ended; the same text as the condition of the `jobs_ended` index, so that it is used. */
const ended = `state IN (${SUCCEEDED}, ${FAILED}, ${CANCELLED})`;
/** The running job still held by the lease `@owner`/`@attempt`. */
const leased = `id = @id AND state = ${RUNNING} AND lease_owner = @owner AND attempts = @attempt`;

/**
 * Stores attestation `@evidence` under `@hash` unless it is stored already (or `@evidence` is NULL), and
 * holds its row until the transaction ends, so that the retention cannot delete it before the result
 * referencing it commits: the row found is locked FOR KEY SHARE (first: bridges storing results of
 * one attestation at once do not wait for each other); one stored meanwhile by another bridge (it
 * conflicts) is locked by `DO UPDATE … WHERE false`, which updates nothing. The retention locks what it
 * deletes FOR UPDATE SKIP LOCKED: it skips a held row, and a row it holds is waited for, then found
 * deleted and stored again. Either way the result's reference finds its attestation.
 */
const storeAttestationOnce = `WITH held AS (SELECT hash FROM attestations WHERE hash = @hash::bytea FOR KEY SHARE),
      stored AS (INSERT INTO attestations (hash, evidence)
      SELECT @hash::bytea, @evidence::bytea WHERE @evidence::bytea IS NOT NULL AND NOT EXISTS (SELECT 1 FROM held)
      ON CONFLICT (hash) DO UPDATE SET evidence = excluded.evidence WHERE false)
      `;

/** What differs between the two databases in the shared statements. */
export interface SqlDialect {
  /** Appended to a row-selecting subquery that claims rows: Postgres skips rows another claim holds. */
  skipLocked: string;
  /** Appended to RETURNING of a change: Postgres notifies the other bridges. */
  notify: string;
  /**
   * Where a job's task and result are: in its row (Postgres keeps an unchanged large value in place when
   * the row changes), or in `job_payloads` (SQLite rewrites a row's large values with any change of the
   * row: a large task once per progress update).
   */
  payloads: "row" | "table";
  /**
   * Names the index of ended jobs after `FROM jobs` where the planner must be told (SQLite, without
   * statistics, prefers `jobs_by_state` and sorts every ended job to find the oldest).
   */
  endedIndex: string;
}

/** The statements both stores run, for `dialect`. */
export function jobStatements(dialect: SqlDialect) {
  const inRow = dialect.payloads === "row";
  const columns = inRow
    ? jobColumns
    : jobColumns.replace(" task,", " (SELECT task FROM job_payloads AS p WHERE p.seq = jobs.seq) AS task,");
  const changed = `RETURNING ${columns}${dialect.notify}`;
  return {
    byId: `SELECT ${columns} FROM jobs WHERE id = @id`,
    /**
     * The job of idempotency key `@key` of key id `@keyId`, or else of a job stored before key ids were
     * (index `jobs_by_key_idempotency`).
     */
    byKey: `SELECT ${columns} FROM jobs WHERE idempotency_key = @key AND (key_id = @keyId OR key_id IS NULL)
      ORDER BY key_id IS NULL LIMIT 1`,
    /** A job's result and the hash of its attestation (NULL when stored whole). */
    result: inRow
      ? "SELECT result, attestation FROM jobs WHERE id = @id"
      : "SELECT p.result, p.attestation FROM job_payloads AS p JOIN jobs ON jobs.seq = p.seq WHERE jobs.id = @id",
    attestation: "SELECT evidence FROM attestations WHERE hash = @hash",
    counts: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state",
    /** Jobs queued or running of key `@keyId`, and of every key (index `jobs_live_by_key`). */
    inFlightOfKey: `SELECT COUNT(*) AS n FROM jobs WHERE key_id = @keyId AND ${live}`,
    inFlightByKey: `SELECT key_id, COUNT(*) AS n FROM jobs WHERE ${live} AND key_id IS NOT NULL GROUP BY key_id`,
    claim: `WITH picked AS MATERIALIZED (
        SELECT seq FROM jobs WHERE state = ${QUEUED} ORDER BY seq LIMIT @limit${dialect.skipLocked})
      UPDATE jobs SET state = ${RUNNING}, attempts = attempts + 1, started_at = COALESCE(started_at, @now),
      updated_at = @now, lease_owner = @owner, lease_expires_at = @now + @leaseMs, version = version + 1
      WHERE seq IN (SELECT seq FROM picked) ${changed}`,
    renew: `UPDATE jobs SET lease_expires_at = @now + @leaseMs WHERE state = ${RUNNING} AND lease_owner = @owner
      RETURNING id`,
    releaseExpired: `WITH picked AS MATERIALIZED (
        SELECT seq FROM jobs WHERE state = ${RUNNING}
        AND (@all = 1 OR lease_expires_at IS NULL OR lease_expires_at < @now) ORDER BY seq LIMIT 1000${dialect.skipLocked})
      UPDATE jobs SET
      state = CASE WHEN attempts >= @maxAttempts THEN ${FAILED} ELSE ${QUEUED} END,
      error_reason = CASE WHEN attempts >= @maxAttempts THEN ${FailureReason.INTERRUPTED} ELSE error_reason END,
      error_message = CASE WHEN attempts >= @maxAttempts
        THEN 'the bridge stopped ' || attempts || ' times while this job ran; submit it again'
        ELSE error_message END,
      ended_at = CASE WHEN attempts >= @maxAttempts THEN @now ELSE ended_at END,
      progress = CASE WHEN attempts >= @maxAttempts THEN progress ELSE 0 END,
      message = '', lease_expires_at = NULL, updated_at = @now, version = version + 1
      WHERE seq IN (SELECT seq FROM picked) ${changed}`,
    update: `UPDATE jobs SET progress = COALESCE(@progress, progress), provider = COALESCE(@provider, provider),
      stage = COALESCE(@stage, stage), message = COALESCE(@message, message), updated_at = @now,
      version = version + 1 WHERE ${leased} RETURNING updated_at, version${dialect.notify}`,
    checkpoint: `UPDATE jobs SET checkpoint = @checkpoint WHERE ${leased} RETURNING id`,
    // In the row, the result's attestation is stored (if absent: several bridges may store it at once) by
    // the same statement, so in the same transaction.
    succeed: `${inRow ? storeAttestationOnce : ""}UPDATE jobs SET state = ${SUCCEEDED}, progress = 1,
      ${inRow ? "result = @result, attestation = @hash, " : ""}provider = @provider,
      message = '', lease_expires_at = NULL, updated_at = @now, ended_at = @now, version = version + 1
      WHERE ${leased} ${changed}`,
    /** With payloads in their own table: the result of the job just succeeded (in the same transaction). */
    storeResult: "UPDATE job_payloads SET result = @result, attestation = @hash WHERE seq = @seq",
    /** With payloads in their own table: the attestation of that result, unless already stored. */
    storeAttestation:
      "INSERT INTO attestations (hash, evidence) VALUES (@hash, @evidence) ON CONFLICT (hash) DO NOTHING",
    fail: `UPDATE jobs SET state = ${FAILED}, error_reason = @reason, error_message = @errorMessage, message = '',
      lease_expires_at = NULL, updated_at = @now, ended_at = @now, version = version + 1 WHERE ${leased} ${changed}`,
    requeue: `UPDATE jobs SET state = ${QUEUED}, progress = 0, message = '', lease_expires_at = NULL,
      updated_at = @now, version = version + 1 WHERE ${leased} ${changed}`,
    cancel: `UPDATE jobs SET state = ${CANCELLED}, error_message = @errorMessage, message = '',
      lease_expires_at = NULL, updated_at = @now, ended_at = @now, version = version + 1
      WHERE id = @id AND ${live} ${changed}`,
    /** Up to `@limit` of the jobs that ended before `@before`, oldest first (Postgres: not locked by another). */
    endedBefore: `SELECT seq FROM jobs${dialect.endedIndex} WHERE ${ended} AND ended_at < @before ORDER BY ended_at LIMIT @limit${dialect.skipLocked}`,
    /** The attestations no result references (`@limit` at most). */
    unusedAttestations: `SELECT hash FROM attestations AS a WHERE NOT EXISTS
      (SELECT 1 FROM ${inRow ? "jobs" : "job_payloads"} AS r WHERE r.attestation = a.hash) LIMIT @limit${dialect.skipLocked}`,
    /** A small committed write: whether the store can be written to now. */
    probe:
      "INSERT INTO bridge_meta (key, value) VALUES ('last_write', @value) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    /**
     * One page of ListJobs (one row more than the page, to tell whether another follows), with markers
     * `marker(i)` for its values. Limited to a key id, it reads that key's jobs and those stored without
     * one (`key_id IS NULL`), each newest first from index `jobs_by_key` and at most a page of each, and
     * merges them: the cost of a page does not grow with the other keys' jobs.
     */
    list(query: ListJobsQuery, marker: (i: number) => string): { text: string; values: unknown[] } {
      const values: unknown[] = [];
      const next = (value: unknown) => {
        values.push(value);
        return marker(values.length);
      };
      const limit = query.pageSize + 1;
      const filters = () => [
        ...(query.states.length ? [`state IN (${query.states.map(next).join(", ")})`] : []),
        ...(query.before === undefined ? [] : [`seq < ${next(query.before)}`]),
      ];
      const newest = (where: string[]) =>
        `${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ${next(limit)}`;
      if (query.keyId === undefined)
        return { text: `SELECT ${columns} FROM jobs ${newest(filters())}`, values };
      const own = newest([`key_id = ${next(query.keyId)}`, ...filters()]);
      const unowned = newest(["key_id IS NULL", ...filters()]);
      return {
        text: `SELECT ${columns} FROM jobs WHERE seq IN (
          SELECT seq FROM (SELECT seq FROM jobs ${own}) AS own
          UNION ALL SELECT seq FROM (SELECT seq FROM jobs ${unowned}) AS unowned) ${newest([])}`,
        values,
      };
    },
  };
}

/** The retry delay suggested to a caller at its quota: jobs take seconds at least. */
const quotaRetryDelayMs = 2000;

/** The refusal of a Submit whose key has `max` jobs queued or running. */
export function quotaExceeded(keyId: string, max: number): ZeroGError {
  return new ZeroGError(
    "quota_exceeded",
    `API key ${keyId} has ${max} job(s) queued or running, its maximum; submit again once one has ended`,
    { retryDelayMs: quotaRetryDelayMs },
  );
}

/**
 * Text as the stores keep it: a NUL, which Postgres text refuses (the write would fail), as U+FFFD.
 * Providers choose some of these texts (error messages, fine-tuning stages).
 */
export function storableText(text: string): string {
  return text.includes("\u0000") ? text.replaceAll("\u0000", "\ufffd") : text;
}

/** A progress patch with storable texts. */
export function storablePatch(patch: JobPatch): JobPatch {
  return {
    ...patch,
    ...(patch.stage === undefined ? {} : { stage: storableText(patch.stage) }),
    ...(patch.message === undefined ? {} : { message: storableText(patch.message) }),
  };
}

/** A message's binary encoding as a Buffer, for the database drivers, without copying it. */
export function encoded<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Buffer {
  const bytes = toBinary(schema, message);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function newJobId(): string {
  return `job_${Date.now().toString(36)}${randomHex(8)}`;
}

/** A stored checkpoint, or undefined when there is none or it is not a JSON object (never throws). */
export function parseCheckpoint(text: string | null): JobCheckpoint | undefined {
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

export function toRecord(row: JobRow): JobRecord {
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
  // The task is decoded when read: most records (a change reported, a GetResult's lookup) never need it.
  const bytes = row.task;
  let task: ComputeTask | undefined;
  return {
    job,
    get task() {
      task ??= fromBinary(ComputeTaskSchema, bytes);
      return task;
    },
    idempotencyKey: row.idempotency_key ?? "",
    keyId: row.key_id ?? undefined,
    checkpoint: parseCheckpoint(row.checkpoint),
    version: row.version,
  };
}

export function toClaimed(row: JobRow): ClaimedJob {
  return { ...toRecord(row), lease: { owner: row.lease_owner ?? "", attempt: row.attempts } };
}

/**
 * The job already stored under an idempotency key, when `task` is the one it was created for; throws
 * `invalid_argument` when the key was used for a different task.
 */
export function sameTask(existing: JobRecord, task: ComputeTask): JobRecord {
  if (equals(ComputeTaskSchema, existing.task, task)) return existing;
  throw new ZeroGError("invalid_argument", "idempotency_key was already used for a different task", {
    violations: [
      {
        field: "idempotency_key",
        reason: "CONFLICT",
        description: `already used by job ${existing.job.jobId} with a different task; use a new key`,
      },
    ],
  });
}
