import { create } from "@bufbuild/protobuf";
import {
  ComputeResultSchema,
  FailureReason,
  failureReasonName,
  isTerminalState,
  type Job,
  JobState,
} from "@chaoschain/zerog-core";
import type { Logger } from "pino";
import {
  BackendError,
  type ComputeBackend,
  type JobCheckpoint,
  type RunContext,
  type StopReason,
} from "../backend.js";
import { delay } from "../delay.js";
import type { JobEvents } from "./job-events.js";
import type { ClaimedJob, JobPatch, JobStore, Lease } from "./job-store.js";
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
  /** This bridge's name in the leases it takes (unique among the bridges sharing the store). */
  owner: string;
  /** How long a claimed job stays this bridge's without a renewal; renewed every third of it. */
  leaseMs: number;
  /** How often a shared store is checked for expired leases and queued jobs, ms. Default 1000. */
  pollMs?: number | undefined;
  /**
   * A running job's provider and fraction done are written at most this often, and not before it has run
   * this long (its stages and messages at once), ms. Default 1000.
   */
  progressIntervalMs?: number | undefined;
}

interface Run {
  controller: AbortController;
  done: Promise<void>;
  lease: Lease;
  /** The renewal round in which the job was claimed: a renewal started before cannot know it. */
  claimedIn: number;
}

/**
 * Runs queued jobs through the backend, at most `concurrency` at a time, oldest first. Each job is
 * claimed with a lease that is renewed while it runs; a job whose lease expires (its bridge died) goes
 * back to the queue, and once it has had `maxAttempts` starts, fails `interrupted`. The backend gets the
 * job's last checkpoint as `resumeFrom`, and decides from it what it may safely do again.
 *
 * A job stopped by a shutdown goes back to the queue; a cancelled one (on any bridge) stays cancelled;
 * a backend failure fails the job with its reason. Storage failures never stop the worker for good: a
 * job that cannot be claimed stays queued, and the outcome of a job that ended but could not be stored
 * is kept in memory (the store still says running) until `resume()`, which the bridge calls once the
 * store can be written again.
 */
export class Worker {
  readonly #o: WorkerOptions;
  readonly #running = new Map<string, Run>();
  /** Outcomes of ended jobs not stored yet, by job id. */
  readonly #unstored = new Map<string, () => Promise<unknown>>();
  #accepting = false;
  #recovered = false;
  #claiming = false;
  #claimAgain = false;
  #renewals = 0;
  #timers: NodeJS.Timeout[] = [];
  /** Since when the store has worked without a failure (expired leases are judged only after a while). */
  #healthySince = Date.now();

  constructor(options: WorkerOptions) {
    this.#o = options;
  }

  /** Releases the jobs a previous run left running, then starts taking jobs and renewing leases. */
  start(): void {
    this.#accepting = true;
    const { leaseMs, pollMs = 1000 } = this.#o;
    // Leases matter only where another bridge could take a job over.
    if (this.#o.store.shared) {
      this.#timers.push(setInterval(() => void this.#renew(), leaseMs / 3));
      this.#timers.push(setInterval(() => void this.#maintain(), pollMs));
    }
    for (const timer of this.#timers) timer.unref();
    void this.resume();
  }

  /**
   * Stores the outcomes kept in memory, releases what a previous run of this bridge left running (once,
   * for a store no other bridge uses), and starts queued jobs. Stops quietly at the first storage
   * failure, to be called again when it is over.
   */
  async resume(): Promise<void> {
    this.#healthySince = Date.now();
    try {
      for (const [jobId, store] of this.#unstored) {
        await store();
        this.#unstored.delete(jobId);
      }
      if (!this.#recovered && !this.#o.store.shared) await this.#release({ all: true });
      this.#recovered = true;
    } catch (err) {
      if (err instanceof StorageError) return;
      throw err;
    }
    this.pump();
  }

  /** Jobs whose lease expired go back to the queue, or fail once their attempts are used up. */
  async #release(options: { all?: boolean } = {}): Promise<void> {
    const released = await this.#o.store.releaseExpired(this.#o.maxAttempts, options);
    if (released.requeued.length || released.failed.length) {
      this.#o.logger.warn(
        { requeued: released.requeued, failed: released.failed },
        "jobs whose bridge stopped while they ran: requeued, or failed after too many starts",
      );
    }
  }

  /**
   * A shared store: renews this bridge's leases, releases expired ones, claims. Expired leases are judged
   * only once the store has worked for two renewal periods: after an outage of the database, every live
   * bridge renews its leases before any is taken for dead.
   */
  async #maintain(): Promise<void> {
    if (!this.#accepting) return;
    if (this.#o.store.problem) {
      this.#healthySince = Date.now();
      return;
    }
    if (Date.now() - this.#healthySince >= (this.#o.leaseMs * 2) / 3) {
      await this.#renew();
      await this.#release().catch((err: unknown) => {
        if (!(err instanceof StorageError)) this.#o.logger.error({ err }, "releasing expired leases failed");
      });
    }
    this.pump();
  }

  /**
   * Renews the leases this bridge holds. A running job whose lease could not be renewed was cancelled or
   * taken over by another bridge: its run stops without writing anything more. A job leased to this
   * bridge that it does not run (a claim that committed, but whose answer the connection lost) goes back
   * to the queue.
   */
  async #renew(): Promise<void> {
    const round = ++this.#renewals;
    const claiming = this.#claiming;
    let held: Set<string>;
    try {
      held = await this.#o.store.renew(this.#o.owner, this.#o.leaseMs);
    } catch (err) {
      if (!(err instanceof StorageError)) this.#o.logger.error({ err }, "renewing leases failed");
      return;
    }
    for (const [jobId, run] of this.#running) {
      if (run.claimedIn >= round || held.has(jobId) || run.controller.signal.aborted) continue;
      const now = await this.#o.store.get(jobId).catch(() => undefined);
      const cause: StopReason = now?.job.state === JobState.CANCELLED ? "cancelled" : "shutdown";
      this.#o.logger.warn(
        { jobId, state: now?.job.state },
        "job no longer this bridge's (cancelled or taken over)",
      );
      run.controller.abort(cause);
    }
    if (claiming || this.#claiming) return;
    for (const jobId of held) {
      if (this.#running.has(jobId) || this.#unstored.has(jobId)) continue;
      const orphan = await this.#o.store.get(jobId).catch(() => undefined);
      if (!orphan || this.#running.has(jobId)) continue;
      const lease = { owner: this.#o.owner, attempt: orphan.job.attempts };
      if (await this.#o.store.requeue(jobId, lease).catch(() => false)) {
        this.#o.logger.warn(
          { jobId },
          "a job claimed by this bridge, whose claim's answer was lost, requeued",
        );
      }
    }
  }

  /**
   * Claims queued jobs while there is room. Call after a job is queued. Never throws: a storage failure
   * leaves the jobs queued until `resume()`. Calls made while a claim runs lead to one more claim.
   */
  pump(): void {
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    this.#claiming = true;
    this.#claimAll()
      .catch((err: unknown) => {
        if (!(err instanceof StorageError)) this.#o.logger.error({ err }, "claiming jobs failed");
      })
      .finally(() => {
        this.#claiming = false;
        if (this.#claimAgain) {
          this.#claimAgain = false;
          this.pump();
        }
      });
  }

  async #claimAll(): Promise<void> {
    const { store, concurrency, owner, leaseMs } = this.#o;
    // While the store has a problem, no job starts (a lucky small write could claim one whose outcome
    // could not be stored): `resume()` starts them once it is over.
    while (this.#accepting && this.#running.size < concurrency && !store.problem) {
      const room = concurrency - this.#running.size;
      const claimed = await store.claim(owner, room, leaseMs);
      for (const job of claimed) this.#start(job);
      if (claimed.length < room) return;
    }
  }

  #start(claimed: ClaimedJob): void {
    const jobId = claimed.job.jobId;
    const controller = new AbortController();
    // A cancellation (on any bridge) or another end of the job stops the run. Only an end is acted on: a
    // job's end is final, while a queued or running state read a moment ago may already be stale (a
    // takeover is found by the renewal of the leases).
    const unsubscribe = this.#o.events.subscribe(
      jobId,
      (event) => {
        if (event.job.state === JobState.CANCELLED) controller.abort("cancelled" satisfies StopReason);
        else if (isTerminalState(event.job.state)) controller.abort("shutdown" satisfies StopReason);
      },
      claimed.version,
    );
    if (!this.#accepting) controller.abort("shutdown" satisfies StopReason);
    const done = this.#run(claimed, controller.signal, unsubscribe)
      .catch((err: unknown) => this.#o.logger.error({ err, jobId }, "job runner failed"))
      .finally(() => {
        unsubscribe();
        this.#running.delete(jobId);
        this.pump();
      });
    this.#running.set(jobId, { controller, done, lease: claimed.lease, claimedIn: this.#renewals });
  }

  /** Stores a job's outcome now, or keeps it for `resume()` when the store cannot be written. */
  async #store(jobId: string, store: () => Promise<unknown>, log: Logger): Promise<void> {
    try {
      await store();
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      this.#unstored.set(jobId, store);
      log.warn(
        { code: err.code },
        "job ended, but its outcome not stored yet: the job store cannot be written; kept until it can",
      );
    }
  }

  /** Cancels a queued or running job, on whichever bridge runs it. Returns false when it had already ended. */
  async cancel(jobId: string): Promise<boolean> {
    const cancelled = await this.#o.store.cancel(jobId);
    if (cancelled) this.#running.get(jobId)?.controller.abort("cancelled" satisfies StopReason);
    return cancelled;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** Whether this bridge runs the job now. */
  runs(jobId: string): boolean {
    return this.#running.has(jobId);
  }

  /**
   * Stops taking jobs, lets running jobs finish for up to `drainMs`, then interrupts the rest,
   * which go back to the queue.
   */
  async stop(drainMs: number): Promise<void> {
    this.#accepting = false;
    // Leases are still renewed while the running jobs finish.
    const [renewal, ...others] = this.#timers;
    for (const timer of others) clearInterval(timer);
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
      for (const { controller } of this.#running.values()) controller.abort("shutdown" satisfies StopReason);
      await all;
    }
    clearInterval(renewal);
    this.#timers = [];
    await this.resume();
    if (this.#unstored.size) {
      this.#o.logger.warn(
        { jobs: [...this.#unstored.keys()] },
        "outcomes of ended jobs could not be stored; those jobs run again at the next start",
      );
    }
  }

  /** `stopWatching` ends the watch of the job's events that aborts the run (the run is over). */
  async #run(claimed: ClaimedJob, signal: AbortSignal, stopWatching: () => void): Promise<void> {
    const { store, events, backend, logger } = this.#o;
    const { lease } = claimed;
    const jobId = claimed.job.jobId;
    const log = logger.child({ jobId });
    log.info(
      { model: claimed.task.model, attempt: lease.attempt, resumed: claimed.checkpoint !== undefined },
      "job started",
    );
    const progress = progressWriter(
      claimed.job,
      (job, patch) => store.update(job, lease, patch),
      (err) => log.error({ err }, "recording the job's progress failed"),
      this.#o.progressIntervalMs ?? 1000,
    );
    const ctx: RunContext = {
      jobId,
      signal,
      progress: progress.write,
      outputDelta: (outputDelta) => events.publish({ job: progress.current(), outputDelta }),
      checkpoint: (state) => this.#checkpoint(jobId, lease, state, signal, log),
      resumeFrom: claimed.checkpoint,
    };
    try {
      const result = await backend.run(claimed.task, ctx);
      // Over: the end this run writes below need not come back to abort it.
      stopWatching();
      await progress.end(true);
      const stored = create(ComputeResultSchema, {
        jobId,
        output: result.output,
        proof: result.proof,
        usage: result.usage,
        ...(result.bridgeChecks ? { bridgeChecks: result.bridgeChecks } : {}),
      });
      await this.#store(
        jobId,
        async () => {
          if (await store.succeed(jobId, lease, stored, result.providerAddress))
            log.info({ provider: result.providerAddress }, "job succeeded");
          else log.warn("job succeeded, but it was no longer this bridge's: result dropped");
        },
        log,
      );
    } catch (err) {
      stopWatching();
      await progress.end(false);
      if (signal.aborted) {
        if (signal.reason !== "shutdown") return log.info("job cancelled");
        // Not requeued (storage failure)? It is still running in the store: its lease expires, or the
        // next start of this bridge releases it.
        await this.#store(jobId, () => store.requeue(jobId, lease), log);
        return log.info("job interrupted by shutdown; requeued unless another bridge has it");
      }
      if (err instanceof BackendError) {
        log.warn({ reason: failureReasonName(err.reason), err: err.message }, "job failed");
        await this.#store(jobId, () => store.fail(jobId, lease, err.reason, err.message), log);
      } else {
        log.error({ err }, "job failed on an unexpected error");
        await this.#store(
          jobId,
          () =>
            store.fail(
              jobId,
              lease,
              FailureReason.INTERNAL,
              "the bridge hit an unexpected error; see its log",
            ),
          log,
        );
      }
    }
  }

  /**
   * Writes a job's checkpoint and waits until it is durable. A backend acts on what it checkpointed (a
   * request sent, a payment), so a storage failure does not skip it: the write is retried until it
   * succeeds or the job stops. A job no longer this attempt's rejects, stopping the run.
   */
  async #checkpoint(jobId: string, lease: Lease, state: JobCheckpoint, signal: AbortSignal, log: Logger) {
    for (let wait = 200; ; wait = Math.min(wait * 2, 5000)) {
      if (signal.aborted) throw signal.reason;
      try {
        if (!(await this.#o.store.checkpoint(jobId, lease, state))) {
          this.#running.get(jobId)?.controller.abort("shutdown" satisfies StopReason);
          throw new BackendError(FailureReason.INTERRUPTED, `job ${jobId} is no longer this bridge's to run`);
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

/**
 * Writes a running job's progress patches one at a time, merged. A stage or message is written at once;
 * the other hints (provider, fraction done) at most once per `intervalMs` and not before the job has run
 * that long, so a short inference job's hints, which its end supersedes, are not written at all (each is
 * a transaction and an event). Progress is a hint: a failed write costs only the hint. `current()` is the
 * job as last written.
 */
function progressWriter(
  initial: Job,
  write: (job: Job, patch: JobPatch) => Promise<Job | undefined>,
  onError: (err: unknown) => void,
  intervalMs: number,
) {
  let current = initial;
  let pending: JobPatch | undefined;
  let writing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let nextAt = Date.now() + intervalMs;
  let ending = false;
  /** A stage or message is waiting: written without delay (a provider's stages are what a watcher follows). */
  let urgent = false;
  const flush = async (patch: JobPatch) => {
    nextAt = Date.now() + intervalMs;
    try {
      current = (await write(current, patch)) ?? current;
    } catch (err) {
      if (!(err instanceof StorageError)) onError(err);
    }
    writing = undefined;
    schedule();
  };
  const schedule = () => {
    if (timer && (urgent || ending)) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (!pending || timer || writing) return;
    const wait = ending || urgent ? 0 : nextAt - Date.now();
    if (wait > 0) {
      timer = setTimeout(() => {
        timer = undefined;
        schedule();
      }, wait);
      return;
    }
    const patch = pending;
    pending = undefined;
    urgent = false;
    writing = flush(patch);
  };
  return {
    current: () => current,
    write(patch: JobPatch) {
      pending = { ...pending };
      for (const [field, value] of Object.entries(patch)) {
        if (value !== undefined) (pending as Record<string, unknown>)[field] = value;
      }
      if (patch.stage !== undefined || patch.message !== undefined) urgent = true;
      schedule();
    },
    /**
     * The run is over: a hint not written yet is written now, unless the job succeeded and the hint is
     * only what its success records anyway (its provider; progress 1). Resolves once written.
     */
    async end(succeeded: boolean) {
      clearTimeout(timer);
      timer = undefined;
      if (succeeded && pending) {
        const { provider: _provider, progress: _progress, ...rest } = pending;
        pending = Object.keys(rest).length > 0 ? rest : undefined;
      }
      ending = true;
      schedule();
      while (writing) await writing;
    },
  };
}
