import { type ComputeResult, isTerminalState, type Job } from "@chaoschain/zerog-core";

export interface JobEvent {
  job: Job;
  /**
   * The job's version in the store (absent on streamed output). An event of a version already
   * published is dropped: the same change may arrive from this bridge, a notification and a poll.
   */
  version?: number | undefined;
  /** Streamed output text since the previous event. */
  outputDelta?: string;
  /** The result, on the event of a job that succeeded (saves waiting callers a read of the store). */
  result?: ComputeResult | undefined;
}

/** A job as read from the store, to start watching from. */
export interface WatchedJob {
  job: Job;
  version: number;
}

type Listener = (event: JobEvent) => void;

/** Streamed output alone (no change of the job's stored state). */
function isOutputPiece(event: JobEvent): event is JobEvent & { outputDelta: string } {
  return event.version === undefined && event.outputDelta !== undefined && event.result === undefined;
}

/** In-process fan-out of job changes to waiting GetResult and WatchJob calls (and the worker). */
export class JobEvents {
  readonly #listeners = new Map<string, Set<Listener>>();
  /** The last version published of each job someone listens to. */
  readonly #versions = new Map<string, number>();

  publish(event: JobEvent): void {
    const id = event.job.jobId;
    const listeners = this.#listeners.get(id);
    if (!listeners) return;
    if (event.version !== undefined) {
      if (event.version <= (this.#versions.get(id) ?? -1)) return;
      this.#versions.set(id, event.version);
    }
    for (const listener of listeners) listener(event);
  }

  /**
   * Calls `listener` with each later event of the job. `seen`: the version the caller has already seen
   * (events up to it are stale for it, and for every listener: versions only grow).
   */
  subscribe(jobId: string, listener: Listener, seen?: number): () => void {
    let set = this.#listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.#listeners.set(jobId, set);
    }
    set.add(listener);
    if (seen !== undefined && seen > this.version(jobId)) this.#versions.set(jobId, seen);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(jobId) === set) {
        this.#listeners.delete(jobId);
        this.#versions.delete(jobId);
      }
    };
  }

  /** Ids of the jobs someone listens to. */
  watched(): string[] {
    return [...this.#listeners.keys()];
  }

  /** Whether someone listens to `jobId`. */
  has(jobId: string): boolean {
    return this.#listeners.has(jobId);
  }

  /** The last version published of `jobId` while someone listened; -1 when none. */
  version(jobId: string): number {
    return this.#versions.get(jobId) ?? -1;
  }

  /**
   * Yields `current` and then every later change of the job until it reaches a terminal state or
   * `signal` aborts. Events are buffered, so a slow reader misses none; streamed output it has not
   * taken yet is joined into one event, so its buffer grows with the output's size (which the provider
   * body limit bounds), not with the number of pieces a provider streams.
   */
  async *watch(current: WatchedJob, signal: AbortSignal): AsyncGenerator<JobEvent> {
    const queue: JobEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe(
      current.job.jobId,
      (event) => {
        const last = queue.at(-1);
        if (last && isOutputPiece(last) && isOutputPiece(event) && last.job.state === event.job.state) {
          queue[queue.length - 1] = { ...event, outputDelta: last.outputDelta + event.outputDelta };
        } else {
          queue.push(event);
        }
        wake?.();
      },
      current.version,
    );
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    let seen = current.version;
    try {
      yield { job: current.job, version: current.version };
      if (isTerminalState(current.job.state)) return;
      while (!signal.aborted) {
        const event = queue.shift();
        if (!event) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
        }
        if (event.version !== undefined) {
          if (event.version <= seen) continue;
          seen = event.version;
        }
        yield event;
        if (isTerminalState(event.job.state)) return;
      }
    } finally {
      unsubscribe();
      signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * Resolves with the job's terminal event (the result included when it was published); with
   * `undefined` when `timeoutMs` passes first. Rejects when `signal` aborts or `read` fails. `read`
   * gives the current state (read after subscribing, so no change is missed).
   */
  async waitForEnd(
    jobId: string,
    read: () => Promise<Job | undefined>,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<JobEvent | undefined> {
    return new Promise<JobEvent | undefined>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (event: JobEvent | undefined, error?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener("abort", onAbort);
        if (error === undefined) resolve(event);
        else reject(error);
      };
      const onAbort = () => finish(undefined, signal.reason);
      const unsubscribe = this.subscribe(jobId, (event) => {
        if (isTerminalState(event.job.state)) finish(event);
      });
      signal.addEventListener("abort", onAbort);
      if (signal.aborted) return onAbort();
      timer = setTimeout(() => finish(undefined), timeoutMs);
      read().then(
        (now) => {
          if (!now || isTerminalState(now.state)) finish(now && { job: now });
        },
        (err: unknown) => finish(undefined, err),
      );
    });
  }
}
