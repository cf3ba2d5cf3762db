import { type ComputeResult, isTerminalState, type Job } from "@chaoschain/zerog-core";

export interface JobEvent {
  job: Job;
  /** Streamed output text since the previous event. */
  outputDelta?: string;
  /** The result, on the event of a job that succeeded (saves waiting callers a read of the store). */
  result?: ComputeResult;
}

type Listener = (event: JobEvent) => void;

/** In-process fan-out of job changes to waiting GetResult and WatchJob calls. */
export class JobEvents {
  readonly #listeners = new Map<string, Set<Listener>>();

  publish(event: JobEvent): void {
    for (const listener of this.#listeners.get(event.job.jobId) ?? []) listener(event);
  }

  subscribe(jobId: string, listener: Listener): () => void {
    let set = this.#listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.#listeners.set(jobId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(jobId);
    };
  }

  /**
   * Yields `current` and then every event of the job until it reaches a terminal state or
   * `signal` aborts. Events are buffered, so a slow reader misses none.
   */
  async *watch(current: Job, signal: AbortSignal): AsyncGenerator<JobEvent> {
    const queue: JobEvent[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe(current.jobId, (event) => {
      queue.push(event);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      yield { job: current };
      if (isTerminalState(current.state)) return;
      while (!signal.aborted) {
        const event = queue.shift();
        if (!event) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          continue;
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
   * `undefined` when `timeoutMs` passes first. Rejects when `signal` aborts. `read` gives the current
   * state (checked after subscribing, so no change is missed).
   */
  async waitForEnd(
    jobId: string,
    read: () => Job | undefined,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<JobEvent | undefined> {
    return new Promise<JobEvent | undefined>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (event: JobEvent | undefined, error?: unknown) => {
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
      const now = read();
      if (!now || isTerminalState(now.state)) return finish(now && { job: now });
      timer = setTimeout(() => finish(undefined), timeoutMs);
    });
  }
}
