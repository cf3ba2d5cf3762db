/** Calls per second a caller may make, and how many at once above that rate. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/**
 * A token bucket per caller id: each call takes a token, buckets refill at `perSecond` up to `burst`.
 * `take` answers undefined (go) or how long until a token is there, ms. Buckets exist only for the
 * ids of configured keys (and "anonymous"), so their number is bounded by the keys file.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number; rate: Rate }>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  take(id: string, rate: Rate): number | undefined {
    const now = this.#now();
    let bucket = this.#buckets.get(id);
    if (!bucket || bucket.rate.perSecond !== rate.perSecond || bucket.rate.burst !== rate.burst) {
      // A new key, or its limits changed in a rotation: start full.
      bucket = { tokens: rate.burst, at: now, rate };
      this.#buckets.set(id, bucket);
    }
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return Math.ceil(((1 - bucket.tokens) / rate.perSecond) * 1000);
  }

  /** Drops the buckets of ids no longer configured (after a rotation). */
  retain(ids: Iterable<string>): void {
    const keep = new Set(ids);
    for (const id of this.#buckets.keys()) if (!keep.has(id)) this.#buckets.delete(id);
  }
}
