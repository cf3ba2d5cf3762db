import { create } from "@bufbuild/protobuf";
import { ComputeResultSchema, FailureReason, failureReasonName } from "@chaoschain/zerog-core";
import type { Logger } from "pino";
import { BackendError, type ComputeBackend, type JobCheckpoint, type RunContext } from "../backend.js";
import { delay } from "../delay.js";
import type { JobEvents } from "./job-events.js";
import type { JobPatch, JobRecord, JobStore } from "./job-store.js";
import { StorageError } from "./storage-error.js";

export interface WorkerOptions {
  store: JobStore;
  events: JobEvents;
  backend: ComputeBackend;
  logger: Logger;
  /** Jobs run at once. */
  concurrency: number;
  /** Starts allowed per job, counting restarts; a job interrupted more often fails `interrupted`. */
  maxAttempts: number;
}

type StopCause = "cancelled" | "shutdown";

/**
 * Runs queued jobs through the backend, at most `concurrency` at a time, oldest first.
 * A job stopped by a shutdown goes back to the queue (to resume at the next start); a cancelled
 * job stays cancelled; a backend failure fails the job with its reason.
 *
 * Storage failures never stop it for good: a job that cannot be started stays queued, and the outcome
 * of a job that ended but could not be stored is kept in memory (the store still says running) until
 * `resume()`, which the bridge calls once the store can be written again.
 */
export class Worker {
  readonly #o: WorkerOptions;
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  /** Outcomes of ended jobs not stored yet, by job id. */
  readonly #unstored = new Map<string, () => void>();
  #accepting = false;
  #recovered = false;

  constructor(options: WorkerOptions) {
    this.#o = options;
  }

  /** Resumes or fails the jobs a previous run left running, then starts taking jobs. */
  start(): void {
    this.#accepting = true;
    this.resume();
  }

  /**
   * Stores the outcomes kept in memory, recovers what a previous run left running (once), and starts
   * queued jobs. Stops quietly at the first storage failure, to be called again when it is over.
   */
  resume(): void {
    try {
      for (const [jobId, store] of this.#unstored) {
        store();
        this.#unstored.delete(jobId);
      }
      if (!this.#recovered) this.#recover();
      this.#recovered = true;
    } catch (err) {
      if (err instanceof StorageError) return;
      throw err;
    }
    this.pump();
  }

  #recover(): void {
    for (const record of this.#o.store.running()) {
      if (this.#running.has(record.job.jobId) || this.#unstored.has(record.job.jobId)) continue;
      if (record.job.attempts >= this.#o.maxAttempts) {
        this.#o.store.fail(
          record.job.jobId,
          FailureReason.INTERRUPTED,
          `the bridge stopped ${record.job.attempts} times while this job ran; submit it again`,
        );
      } else {
        this.#o.store.requeue(record.job.jobId);
      }
    }
  }

  /**
   * Starts queued jobs while there is room. Call after a job is queued. Never throws: a storage
   * failure leaves the jobs queued until `resume()`.
   */
  pump(): void {
    while (this.#accepting && this.#running.size < this.#o.concurrency) {
      let record: JobRecord | undefined;
      try {
        record = this.#o.store.startNext();
      } catch (err) {
        if (!(err instanceof StorageError)) this.#o.logger.error({ err }, "starting a job failed");
        return;
      }
      if (!record) return;
      const jobId = record.job.jobId;
      const controller = new AbortController();
      const done = this.#run(record, controller.signal)
        .catch((err: unknown) => this.#o.logger.error({ err, jobId }, "job runner failed"))
        .finally(() => {
          this.#running.delete(jobId);
          this.pump();
        });
      this.#running.set(jobId, { controller, done });
    }
  }

  /** Stores a job's outcome now, or keeps it for `resume()` when the store cannot be written. */
  #store(jobId: string, store: () => void, log: Logger): void {
    try {
      store();
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      this.#unstored.set(jobId, store);
      log.warn(
        { code: err.code },
        "job ended, but its outcome not stored yet: the job store cannot be written; kept until it can",
      );
    }
  }

  /** Cancels a queued or running job. Returns false when it had already ended. */
  cancel(jobId: string): boolean {
    const cancelled = this.#o.store.cancel(jobId);
    if (cancelled) this.#running.get(jobId)?.controller.abort("cancelled" satisfies StopCause);
    return cancelled;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /**
   * Stops taking jobs, lets running jobs finish for up to `drainMs`, then interrupts the rest,
   * which go back to the queue.
   */
  async stop(drainMs: number): Promise<void> {
    this.#accepting = false;
    const all = Promise.allSettled([...this.#running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      all.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), drainMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      for (const { controller } of this.#running.values()) controller.abort("shutdown" satisfies StopCause);
      await all;
    }
    this.resume();
    if (this.#unstored.size) {
      this.#o.logger.warn(
        { jobs: [...this.#unstored.keys()] },
        "outcomes of ended jobs could not be stored; those jobs run again at the next start",
      );
    }
  }

  async #run(record: JobRecord, signal: AbortSignal): Promise<void> {
    const { store, events, backend, logger } = this.#o;
    const jobId = record.job.jobId;
    const log = logger.child({ jobId });
    log.info(
      { model: record.task.model, attempt: record.job.attempts, resumed: record.checkpoint !== undefined },
      "job started",
    );
    // The job as last written: streamed deltas are published with it, without a read per token.
    let current = record.job;
    const update = (patch: JobPatch) => {
      try {
        current = store.update(current, patch) ?? current;
      } catch (err) {
        // Progress, stage and provider are hints: a storage failure costs only the hint.
        if (!(err instanceof StorageError)) throw err;
      }
    };
    const ctx: RunContext = {
      jobId,
      signal,
      progress: update,
      outputDelta: (outputDelta) => events.publish({ job: current, outputDelta }),
      checkpoint: (state) => this.#checkpoint(jobId, state, signal, log),
      resumeFrom: record.checkpoint,
    };
    try {
      const result = await backend.run(record.task, ctx);
      const stored = create(ComputeResultSchema, {
        jobId,
        output: result.output,
        proof: result.proof,
        usage: result.usage,
        ...(result.bridgeChecks ? { bridgeChecks: result.bridgeChecks } : {}),
      });
      this.#store(
        jobId,
        () => {
          if (store.succeed(jobId, stored, result.providerAddress))
            log.info({ provider: result.providerAddress }, "job succeeded");
        },
        log,
      );
    } catch (err) {
      if (signal.aborted) {
        if (signal.reason !== "shutdown") return log.info("job cancelled");
        // Not requeued (storage failure)? It is still running in the store: the next start resumes it.
        this.#store(jobId, () => store.requeue(jobId), log);
        return log.info("job interrupted by shutdown; requeued");
      }
      if (err instanceof BackendError) {
        log.warn({ reason: failureReasonName(err.reason), err: err.message }, "job failed");
        this.#store(jobId, () => store.fail(jobId, err.reason, err.message), log);
      } else {
        log.error({ err }, "job failed on an unexpected error");
        this.#store(
          jobId,
          () => store.fail(jobId, FailureReason.INTERNAL, "the bridge hit an unexpected error; see its log"),
          log,
        );
      }
    }
  }

  /**
   * Writes a job's checkpoint and waits until it is on disk. A backend acts on what it checkpointed (a
   * task id, a payment), so a storage failure does not skip it: the write is retried until it succeeds
   * or the job stops.
   */
  async #checkpoint(jobId: string, state: JobCheckpoint, signal: AbortSignal, log: Logger): Promise<void> {
    for (let wait = 200; ; wait = Math.min(wait * 2, 5000)) {
      if (signal.aborted) throw signal.reason;
      try {
        if (!this.#o.store.checkpoint(jobId, state)) {
          throw new BackendError(FailureReason.INTERRUPTED, `job ${jobId} is no longer running`);
        }
        await this.#o.store.durable();
        return;
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
        log.warn(
          { code: err.code },
          "cannot store the job's checkpoint yet: the job store cannot be written; retrying",
        );
        await delay(wait, signal);
      }
    }
  }
}
