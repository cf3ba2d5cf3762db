import { ZeroGError } from "@chaoschain/zerog-core";

/** The retry delay suggested to a caller at its quota: jobs take seconds at least. */
export const quotaRetryDelayMs = 2000;

/**
 * Jobs queued or running per caller id, against each caller's maximum. A Submit reserves a place
 * before the job is stored (so concurrent Submits cannot overshoot) and keeps it as the job's id once
 * stored; `ended(jobId)` frees it. Counted by this bridge process, for the jobs submitted to it since
 * it started (several bridges on one Postgres: each counts its own Submits, so a key may have up to
 * its maximum on each); at the limit, the jobs held are checked against the store first (`isOpen`),
 * so a job whose end this process did not see (run by another bridge) does not hold its place.
 */
export class JobQuota {
  readonly #jobs = new Map<string, Set<string>>();
  readonly #owner = new Map<string, string>();
  readonly #pending = new Map<string, number>();
  readonly #isOpen: (jobId: string) => Promise<boolean>;

  constructor(isOpen: (jobId: string) => Promise<boolean>) {
    this.#isOpen = isOpen;
  }

  /** Jobs of `id` queued or running (as far as this process knows), plus Submits in progress. */
  count(id: string): number {
    return (this.#jobs.get(id)?.size ?? 0) + (this.#pending.get(id) ?? 0);
  }

  /**
   * Reserves a place for one Submit of caller `id`, or throws `quota_exceeded` (or, at the limit, the
   * store's error when it cannot be read: the caller is told the store is unavailable, not that it is
   * over its quota). Call `keep(jobId)` once the job is stored, and `release()` in any case after.
   */
  async reserve(id: string, max: number): Promise<{ keep(jobId: string): void; release(): void }> {
    if (this.count(id) >= max) await this.#recheck(id);
    if (this.count(id) >= max) {
      throw new ZeroGError(
        "quota_exceeded",
        `API key ${id} has ${max} job(s) queued or running, its maximum; submit again once one has ended`,
        { retryDelayMs: quotaRetryDelayMs },
      );
    }
    this.#pending.set(id, (this.#pending.get(id) ?? 0) + 1);
    let released = false;
    return {
      keep: (jobId) => {
        if (this.#owner.has(jobId)) return;
        this.#owner.set(jobId, id);
        const jobs = this.#jobs.get(id) ?? new Set<string>();
        this.#jobs.set(id, jobs);
        jobs.add(jobId);
        // The job may have ended before its Submit answered (or be an old one, by idempotency key).
        void this.#freeIfEnded(jobId);
      },
      release: () => {
        if (released) return;
        released = true;
        const n = (this.#pending.get(id) ?? 1) - 1;
        if (n > 0) this.#pending.set(id, n);
        else this.#pending.delete(id);
      },
    };
  }

  /** A job ended: its place is free. */
  ended(jobId: string): void {
    const id = this.#owner.get(jobId);
    if (id === undefined) return;
    this.#owner.delete(jobId);
    const jobs = this.#jobs.get(id);
    jobs?.delete(jobId);
    if (jobs?.size === 0) this.#jobs.delete(id);
  }

  /** Frees the places of `id`'s jobs that have ended; rejects with the store's error when it cannot tell. */
  async #recheck(id: string): Promise<void> {
    const held = [...(this.#jobs.get(id) ?? [])];
    const open = await Promise.all(held.map((jobId) => this.#isOpen(jobId)));
    for (const [i, jobId] of held.entries()) if (!open[i]) this.ended(jobId);
  }

  /** Frees the place of a job the store says has ended; a store that cannot be read frees nothing. */
  async #freeIfEnded(jobId: string): Promise<void> {
    if (!(await this.#isOpen(jobId).catch(() => true))) this.ended(jobId);
  }
}
