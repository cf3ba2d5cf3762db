import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { JobStore } from "./job-store.js";
import { StorageError } from "./storage-error.js";

export interface RetentionOptions {
  store: Pick<JobStore, "deleteEnded" | "deleteUnusedAttestations" | "problem">;
  logger: Logger;
  /** Jobs are deleted this long after they ended, ms (more than 0). */
  retentionMs: number;
  /** Told how many jobs each batch deleted (for `zerog_jobs_deleted_total`). */
  onDeleted?: ((jobs: number) => void) | undefined;
  /** Time between sweeps, ms. Default 60 000. */
  intervalMs?: number | undefined;
  /** Rows deleted per statement, at most. Default 500. */
  batchSize?: number | undefined;
  /** Pause between two batches of one sweep, ms, for the other work of the store. Default 50. */
  pauseMs?: number | undefined;
  /** The clock, ms since the epoch. Default `Date.now`. */
  now?: (() => number) | undefined;
}

export interface SweepResult {
  jobs: number;
  attestations: number;
}

export interface Retention {
  /** One sweep now (or the one under way): every job past the retention, then unused attestations. */
  sweep(): Promise<SweepResult>;
  /** No more sweeps; resolves once the one under way stopped (after its current batch). */
  stop(): Promise<void>;
}

/** How long ended jobs are kept when the bridge is not told (`--job-retention`), seconds: 30 days. */
export const defaultJobRetentionSeconds = 30 * 86_400;

/** "30d", "12h", "90m" or "45s": the largest unit that divides `ms`, for messages. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/**
 * Deletes, in the background, the jobs that ended (succeeded, failed, cancelled) more than
 * `retentionMs` ago, with their task and result, and then the stored attestations no result references
 * any more. Each sweep works in batches of at most `batchSize` rows with a pause between them, so that
 * a synchronous SQLite store never holds the event loop for long; queued and running jobs are never
 * touched. Bridges sharing a Postgres may all run it: the stores delete each row once, and a result
 * being stored keeps its attestation. A sweep that meets a storage failure stops until the next one.
 */
export function startRetention(options: RetentionOptions): Retention {
  const { store, logger, retentionMs } = options;
  if (!(retentionMs > 0)) throw new RangeError(`retentionMs must be above 0, got ${retentionMs}`);
  const batchSize = options.batchSize ?? 500;
  const pauseMs = options.pauseMs ?? 50;
  const now = options.now ?? Date.now;
  const stopping = new AbortController();
  let running: Promise<SweepResult> | undefined;

  /** Runs `batch` until it deletes less than a full batch; returns how many it deleted in all. */
  const drain = async (batch: () => Promise<number>, onBatch?: (n: number) => void): Promise<number> => {
    let total = 0;
    for (;;) {
      const deleted = await batch();
      total += deleted;
      if (deleted) onBatch?.(deleted);
      if (deleted < batchSize || stopping.signal.aborted) return total;
      await sleep(pauseMs, undefined, { signal: stopping.signal }).catch(() => {});
    }
  };

  const run = async (): Promise<SweepResult> => {
    const done: SweepResult = { jobs: 0, attestations: 0 };
    if (store.problem) return done;
    try {
      const endedBefore = now() - retentionMs;
      done.jobs = await drain(() => store.deleteEnded(endedBefore, batchSize), options.onDeleted);
      if (!stopping.signal.aborted)
        done.attestations = await drain(() => store.deleteUnusedAttestations(batchSize));
    } catch (err) {
      // A storage failure is the store's problem, reported by it; the next sweep tries again.
      if (!(err instanceof StorageError)) logger.error({ err }, "job retention: the sweep failed");
    }
    if (done.jobs || done.attestations) {
      logger.info(
        {
          deletedJobs: done.jobs,
          deletedAttestations: done.attestations,
          retention: formatDuration(retentionMs),
        },
        `job retention: deleted ${done.jobs} jobs ended more than ${formatDuration(retentionMs)} ago, and ${done.attestations} attestations no result uses`,
      );
    }
    return done;
  };

  const sweep = () => {
    running ??= run().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void sweep(), options.intervalMs ?? 60_000);
  timer.unref();
  return {
    sweep,
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await running;
    },
  };
}
