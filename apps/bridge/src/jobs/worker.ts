import { create } from "@bufbuild/protobuf";
import {
  BackendError,
  type ComputeBackend,
  ComputeResultSchema,
  FailureReason,
  failureReasonName,
} from "@chaoschain/zerog-core";
import type { Logger } from "pino";
import type { JobEvents } from "./job-events.js";
import type { JobRecord, JobStore } from "./job-store.js";

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
 */
export class Worker {
  readonly #o: WorkerOptions;
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  #accepting = false;

  constructor(options: WorkerOptions) {
    this.#o = options;
  }

  /** Resumes or fails the jobs a previous run left running, then starts taking jobs. */
  start(): void {
    for (const record of this.#o.store.running()) {
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
    this.#accepting = true;
    this.pump();
  }

  /** Starts queued jobs while there is room. Call after a job is queued. */
  pump(): void {
    while (this.#accepting && this.#running.size < this.#o.concurrency) {
      const record = this.#o.store.startNext();
      if (!record) return;
      const controller = new AbortController();
      const done = this.#run(record, controller.signal).finally(() => {
        this.#running.delete(record.job.jobId);
        this.pump();
      });
      this.#running.set(record.job.jobId, { controller, done });
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
  }

  async #run(record: JobRecord, signal: AbortSignal): Promise<void> {
    const { store, events, backend, logger } = this.#o;
    const jobId = record.job.jobId;
    const log = logger.child({ jobId });
    log.info({ model: record.task.model, attempt: record.job.attempts }, "job started");
    // The job as last written: streamed deltas are published with it, without a read per token.
    let current = record.job;
    const update = (patch: Parameters<JobStore["update"]>[1]) => {
      current = store.update(current, patch) ?? current;
    };
    try {
      const ref = await backend.submit(record.task, {
        jobId,
        signal,
        onProvider: (provider) => update({ provider }),
        onProgress: (progress) => update({ progress }),
        onOutputDelta: (outputDelta) => events.publish({ job: current, outputDelta }),
      });
      const result = await backend.result(ref, { signal });
      const stored = create(ComputeResultSchema, {
        jobId,
        output: result.output,
        proof: result.proof,
        usage: result.usage,
      });
      if (store.succeed(jobId, stored, result.providerAddress)) {
        log.info({ provider: result.providerAddress }, "job succeeded");
      }
    } catch (err) {
      if (signal.aborted) {
        if (signal.reason === "shutdown" && store.requeue(jobId))
          log.info("job interrupted by shutdown; requeued");
        else log.info("job cancelled");
        return;
      }
      if (err instanceof BackendError) {
        log.warn({ reason: failureReasonName(err.reason), err: err.message }, "job failed");
        store.fail(jobId, err.reason, err.message);
      } else {
        log.error({ err }, "job failed on an unexpected error");
        store.fail(jobId, FailureReason.INTERNAL, "the bridge hit an unexpected error; see its log");
      }
    }
  }
}
