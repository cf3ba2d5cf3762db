import type { ComputeResult, ComputeTask, FailureReason, Job, JobState } from "@chaoschain/zerog-core";
import type { JobCheckpoint } from "../backend.js";
import type { StorageError } from "./storage-error.js";

/** A job as stored: the wire `Job` plus what only the bridge needs. */
export interface JobRecord {
  job: Job;
  task: ComputeTask;
  idempotencyKey: string;
  /** The id of the API key that submitted the job; undefined for a job stored before key ids were. */
  keyId: string | undefined;
  /** The backend's last checkpoint of the job, for resuming it in a later attempt. */
  checkpoint: JobCheckpoint | undefined;
  /** Counts the job's changes: a reader that saw version n has seen every change up to n. */
  version: number;
}

/**
 * One attempt's hold on a running job: who runs it and which attempt it is. Every write of that
 * attempt names it, and is refused (the method returns false) once the job is no longer this attempt's:
 * cancelled, taken over after the lease expired, or requeued. This is what keeps a bridge that lost a
 * job (a pause, a network split from the database) from writing over the attempt that replaced it.
 */
export interface Lease {
  owner: string;
  attempt: number;
}

/** A job claimed to run: its record and the lease its writes must name. */
export interface ClaimedJob extends JobRecord {
  lease: Lease;
}

/** What a running job's `update` may change; absent fields stay. */
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
  /**
   * Only the jobs this key id submitted, and those stored before key ids were (which every key reaches,
   * as before); undefined: every job.
   */
  keyId?: string | undefined;
}

/**
 * Whether a caller limited to key id `keyId` (undefined: no limit) reaches `record`: its own jobs, and
 * the jobs stored before key ids were. The same rule as `ListJobsQuery.keyId`.
 */
export function reaches(keyId: string | undefined, record: JobRecord): boolean {
  return keyId === undefined || record.keyId === undefined || record.keyId === keyId;
}

/** A committed change of a job, as the store reports it. */
export interface JobChange {
  job: Job;
  version: number;
  /** The result, for a job that succeeded. */
  result?: ComputeResult | undefined;
}

/** Who submits a job: its API key's id (never the key), and that key's in-flight jobs quota. */
export interface Submitter {
  /** The API key's id from the keys file ("default", "anonymous"): stored with the job. */
  keyId: string;
  /** Most jobs the key may have queued or running at once; none: no quota (and no count). */
  maxInFlight?: number | undefined;
}

/** The submitter of an insert that names none: the caller of a bridge without API keys. */
export const anonymousSubmitter: Submitter = { keyId: "anonymous" };

export interface JobStoreHooks {
  /** Each change this store made (with the result, for a job that succeeded). */
  onChange?: ((change: JobChange) => void) | undefined;
  /**
   * The storage became unusable (a write or read failed: disk full, read-only, database down), or
   * usable again (`undefined`, after a write succeeded).
   */
  onStorage?: ((problem: StorageError | undefined) => void) | undefined;
}

/** Notifications of what other bridges sharing the store changed. */
export interface RemoteChanges {
  /** Another bridge changed job `jobId`, to `version`. */
  onJob(jobId: string, version: number): void;
  /** Another bridge queued jobs. */
  onQueued(): void;
  /** Notifications may have been missed (the connection was lost): re-read what matters. */
  onGap(): void;
}

/** Jobs whose lease expired, released by `releaseExpired`. */
export interface ReleasedJobs {
  /** Back in the queue, to be claimed again (their checkpoint kept). */
  requeued: string[];
  /** Failed `interrupted`: their attempts were used up. */
  failed: string[];
}

/**
 * Where jobs live: SQLite for one bridge (`SqliteJobStore`), Postgres for several sharing it
 * (`PostgresJobStore`). Both pass the same suite (`job-store.test.ts`).
 *
 * Every write commits before its promise resolves; `durable()` then resolves once the writes before it
 * would survive a power cut too (answer a client only after it). State changes are guarded: a terminal
 * job never changes again, and a running job's writes name its {@link Lease}. A storage failure rejects
 * with a {@link StorageError} (the change is not made) and stays the store's `problem` until `probe()`
 * finds the store writable again.
 */
export interface JobStore {
  readonly kind: "sqlite" | "postgres";
  /** Where the jobs are, for messages: the file, or the database URL without its password. */
  readonly location: string;
  /**
   * Whether other bridges may share the store: their leases are then honoured until they expire.
   * Unshared (SQLite), every job found running at start belongs to a previous run of this bridge.
   */
  readonly shared: boolean;
  /** Why the store cannot be used now (since a read or write failed); undefined when it can. */
  readonly problem: StorageError | undefined;
  /** Sets what the store tells about its changes and its storage (replacing earlier hooks). */
  attach(hooks: JobStoreHooks): void;
  /** Whether the store can be written now; a success ends the `problem`. */
  probe(): Promise<boolean>;
  /**
   * Stores a new queued job, or returns the job already created with `idempotencyKey` by the same key id
   * (by any bridge sharing the store), or by no key id (a job stored before key ids were: a retry across
   * the upgrade is not run twice). Another key id's use of `idempotencyKey` is another job. Without
   * `submitter`, the job is {@link anonymousSubmitter}'s. Rejects `invalid_argument` when the key was used
   * for a different task, and
   * `quota_exceeded` when `submitter` already has `maxInFlight` jobs queued or running (counted in the
   * same transaction as the insert, across every bridge sharing the store; a resubmit that returns an
   * existing job is never refused).
   */
  insert(
    task: ComputeTask,
    idempotencyKey: string,
    submitter?: Submitter,
  ): Promise<{ record: JobRecord; created: boolean }>;
  get(id: string): Promise<JobRecord | undefined>;
  /** The jobs among `ids` that exist (for polling changes). */
  getMany(ids: readonly string[]): Promise<JobRecord[]>;
  /**
   * Moves up to `limit` of the oldest queued jobs to running, each leased to `owner` for `leaseMs`
   * (jobs locked by another claim at the same moment are skipped, not waited for).
   */
  claim(owner: string, limit: number, leaseMs: number): Promise<ClaimedJob[]>;
  /** Extends every lease `owner` holds by `leaseMs` from now; returns the ids of the jobs still held. */
  renew(owner: string, leaseMs: number): Promise<Set<string>>;
  /**
   * Running jobs whose lease expired (all running jobs with `all`, for a store no one else uses) go
   * back to the queue, or fail `interrupted` once they had `maxAttempts` starts.
   */
  releaseExpired(maxAttempts: number, options?: { all?: boolean }): Promise<ReleasedJobs>;
  /**
   * Records progress, stage, message or provider of a running job, given as last read or updated; returns
   * it updated when it changed, undefined when the job is no longer the lease's.
   */
  update(job: Job, lease: Lease, patch: JobPatch): Promise<Job | undefined>;
  /** Stores a running job's checkpoint; false when the job is no longer the lease's. */
  checkpoint(id: string, lease: Lease, state: JobCheckpoint): Promise<boolean>;
  /** Running → succeeded with its result; false when the job is no longer the lease's. */
  succeed(id: string, lease: Lease, result: ComputeResult, provider: string): Promise<boolean>;
  /** Running → failed; false when the job is no longer the lease's. */
  fail(id: string, lease: Lease, reason: FailureReason, message: string): Promise<boolean>;
  /** Running → queued (a stop of the bridge), the checkpoint kept; false when no longer the lease's. */
  requeue(id: string, lease: Lease): Promise<boolean>;
  /** Queued or running → cancelled, whoever runs it; false when the job had already ended. */
  cancel(id: string, message?: string): Promise<boolean>;
  result(id: string): Promise<ComputeResult | undefined>;
  /** Newest first (of `query.keyId`'s jobs); returns the position to pass as `before` for the next page. */
  list(query: ListJobsQuery): Promise<{ records: JobRecord[]; next: number | undefined }>;
  /** Number of jobs in each state. */
  counts(): Promise<Map<JobState, number>>;
  /** Jobs queued or running by the key id that submitted them (jobs stored without one are left out). */
  inFlightByKey(): Promise<Map<string, number>>;
  /**
   * Deletes up to `limit` of the jobs that ended (succeeded, failed, cancelled) before `endedBefore` (ms
   * since the epoch), the oldest first, with their task and result; returns how many. Queued and running
   * jobs are never deleted. Bridges sharing the store may run it at once: each job is deleted once.
   */
  deleteEnded(endedBefore: number, limit: number): Promise<number>;
  /**
   * Deletes up to `limit` stored attestations that no result references; returns how many. One that a
   * result being stored at the same moment references is kept (that `succeed` never fails for it).
   */
  deleteUnusedAttestations(limit: number): Promise<number>;
  /** Resolves once every write committed before the call would survive a power cut. */
  durable(): Promise<void>;
  /** Other bridges' changes (shared stores only); returns a function that stops listening. */
  watchRemote?(listener: RemoteChanges): () => void;
  close(): Promise<void>;
}
