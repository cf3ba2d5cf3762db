import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type ComputeResult, type ComputeTask, type Job, JobState } from "@chaoschain/zerog-core";
import { rememberEncoding } from "../wire/known-encodings.js";
import { type JobRow, toClaimed, toRecord } from "./job-sql.js";
import type {
  ClaimedJob,
  JobChange,
  JobPatch,
  JobRecord,
  JobStoreHooks,
  ReleasedJobs,
  Submitter,
} from "./job-store.js";
import type { StorageError } from "./storage-error.js";
import { AttestationCache, encodingOf, readResult, type StoredResult } from "./stored-results.js";

/** A Submit waiting for the next group commit of inserts. */
export interface PendingInsert {
  task: ComputeTask;
  key: string;
  submitter: Submitter;
  resolve: (out: { record: JobRecord; created: boolean }) => void;
  reject: (err: unknown) => void;
}

/** What both stores share: their hooks, their storage problem, and turning rows into answers and reports. */
export abstract class StoreBase {
  #hooks: JobStoreHooks;
  #problem: StorageError | undefined;
  /** The attestations of the results read or written lately, decoded. */
  readonly attestations = new AttestationCache();

  protected constructor(hooks: JobStoreHooks, problem: StorageError | undefined) {
    this.#hooks = hooks;
    this.#problem = problem;
  }

  get problem(): StorageError | undefined {
    return this.#problem;
  }

  attach(hooks: JobStoreHooks): void {
    this.#hooks = hooks;
    if (this.#problem) hooks.onStorage?.(this.#problem);
  }

  /** A read or write failed: `storage` is the store's problem now (reported once per cause). */
  protected failed(storage: StorageError): StorageError {
    if (this.#problem?.code !== storage.code) {
      this.#problem = storage;
      this.#hooks.onStorage?.(storage);
    }
    return storage;
  }

  /** A probe succeeded: the problem, if any, is over. */
  protected recovered(): void {
    if (!this.#problem) return;
    this.#problem = undefined;
    this.#hooks.onStorage?.(undefined);
  }

  /** Reports a committed change of a job. */
  protected changed(change: JobChange): void {
    this.#hooks.onChange?.(change);
  }

  protected changedRow(row: JobRow, result?: ComputeResult): JobRecord {
    const record = toRecord(row);
    this.changed({ job: record.job, version: record.version, result });
    return record;
  }

  /**
   * Reports a job's success, stored as `stored`, with its result (for the callers waiting for it, encoded
   * as stored); its attestation is kept decoded for the reads to come.
   */
  protected succeeded(row: JobRow, result: ComputeResult, stored: StoredResult): void {
    if (stored.attestation) this.attestations.set(stored.attestation.hash, stored.attestation);
    this.changedRow(
      row,
      rememberEncoding(result, () => encodingOf(stored)),
    );
  }

  /**
   * A result as its row holds it (`result`, and the `hash` of its attestation when stored apart), the
   * attestation put back: from the cache, else `load`ed by its hash and checked against it.
   */
  protected async readStored(
    row: { result: Buffer | null; attestation: Buffer | null } | undefined,
    load: (hash: Buffer) => Buffer | undefined | Promise<Buffer | undefined>,
  ): Promise<ComputeResult | undefined> {
    if (!row?.result) return undefined;
    const hash = row.attestation;
    if (!hash) return readResult(row.result, undefined);
    const attestation = this.attestations.get(hash) ?? this.attestations.decode(hash, await load(hash));
    return readResult(row.result, attestation);
  }

  /** Claimed rows, oldest first, each reported. */
  protected claimed(rows: JobRow[]): ClaimedJob[] {
    return rows
      .sort((a, b) => a.seq - b.seq)
      .map((row) => {
        const claimed = toClaimed(row);
        this.changed({ job: claimed.job, version: claimed.version });
        return claimed;
      });
  }

  /** Rows whose lease expired, each reported, by what became of them. */
  protected released(rows: JobRow[]): ReleasedJobs {
    const released: ReleasedJobs = { requeued: [], failed: [] };
    for (const row of rows.sort((a, b) => a.seq - b.seq)) {
      const record = this.changedRow(row);
      (record.job.state === JobState.QUEUED ? released.requeued : released.failed).push(record.job.jobId);
    }
    return released;
  }

  /** `job` with `patch` applied as the store wrote it (at `updatedAt`, `version`), reported. */
  protected updated(job: Job, patch: JobPatch, row: { updated_at: number; version: number }): Job {
    const updated: Job = {
      ...job,
      progress: patch.progress ?? job.progress,
      providerAddress: patch.provider ?? job.providerAddress,
      stage: patch.stage ?? job.stage,
      message: patch.message ?? job.message,
      updateTime: timestampFromMs(row.updated_at),
    };
    this.changed({ job: updated, version: row.version });
    return updated;
  }

  /** One page of a listing read with one row more than the page: the records and the next position. */
  protected page(rows: JobRow[], pageSize: number): { records: JobRecord[]; next: number | undefined } {
    const page = rows.slice(0, pageSize);
    return { records: page.map(toRecord), next: rows.length > pageSize ? page.at(-1)?.seq : undefined };
  }
}
