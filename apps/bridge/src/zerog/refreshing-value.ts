export interface RefreshingValueOptions {
  /** How long a value is used before it is read again, ms. */
  ttlMs: number;
  /**
   * How long past its TTL the last value is still used while reads fail (or hang), ms. Default 15
   * minutes. Older than that, callers wait for a read and get its error.
   */
  maxStaleMs?: number;
  /** The least time between two reads while they fail, ms. Default 1 000. */
  retryMs?: number;
  /** A read that has not answered after this long counts as failed (and the next may start), ms. Default 30 000. */
  readTimeoutMs?: number;
  /** The error a failed read (rejected or timed out) is reported as. Default: as it is. */
  toError?: (err: unknown) => unknown;
  /** Reads began to fail while the last value is still used: once per outage, with the value's age. */
  onStale?: (err: unknown, ageMs: number) => void;
  /** Milliseconds since the epoch. Default: the clock. */
  now?: () => number;
}

/**
 * A value read from something slow or fallible (the chain), read again every `ttlMs` behind its callers:
 * once read, `get()` answers at once with the last value while a new read runs (stale while
 * revalidating), and keeps answering with it while reads fail or hang, for up to `maxStaleMs` past its
 * TTL. A caller waits for a read only before the first one succeeded, or once the value is too old.
 * One read at a time, shared by the callers waiting for it.
 *
 * @example
 * const registry = new RefreshingValue(() => readRegistry(), { ttlMs: 60_000 });
 * const services = await registry.get(); // the chain down for a while: still the last registry read
 */
export class RefreshingValue<V> {
  readonly #read: () => Promise<V>;
  readonly #ttlMs: number;
  readonly #maxStaleMs: number;
  readonly #retryMs: number;
  readonly #readTimeoutMs: number;
  readonly #toError: (err: unknown) => unknown;
  readonly #onStale: RefreshingValueOptions["onStale"];
  readonly #now: () => number;
  #last: { at: number; value: V } | undefined;
  #reading: Promise<V> | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  #failing = false;

  constructor(read: () => Promise<V>, options: RefreshingValueOptions) {
    this.#read = read;
    this.#ttlMs = options.ttlMs;
    this.#maxStaleMs = options.maxStaleMs ?? 15 * 60_000;
    this.#retryMs = options.retryMs ?? 1000;
    this.#readTimeoutMs = options.readTimeoutMs ?? 30_000;
    this.#toError = options.toError ?? ((err) => err);
    this.#onStale = options.onStale;
    this.#now = options.now ?? Date.now;
  }

  get(): Promise<V> {
    const now = this.#now();
    const last = this.#last;
    const age = last ? now - last.at : Number.POSITIVE_INFINITY;
    if (last && age < this.#ttlMs) return Promise.resolve(last.value);
    if (!last || age >= this.#ttlMs + this.#maxStaleMs) return this.#refresh();
    // Read again behind the caller: unless a read runs already (one that hangs gets no handler per call)
    // or one failed just now.
    if (!this.#reading && now - this.#failedAt >= this.#retryMs) {
      this.#refresh().catch((err: unknown) => {
        if (!this.#failing) this.#onStale?.(err, this.#now() - last.at);
        this.#failing = true;
      });
    }
    return Promise.resolve(last.value);
  }

  #refresh(): Promise<V> {
    this.#reading ??= this.#timedRead().then(
      (value) => {
        this.#last = { at: this.#now(), value };
        this.#reading = undefined;
        this.#failing = false;
        return value;
      },
      (err: unknown) => {
        this.#failedAt = this.#now();
        this.#reading = undefined;
        throw this.#toError(err);
      },
    );
    return this.#reading;
  }

  /** The read, or its failure once it has hung for `readTimeoutMs`: a hung read must not block every later one. */
  #timedRead(): Promise<V> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer after ${this.#readTimeoutMs} ms`)),
        this.#readTimeoutMs,
      );
      timer.unref?.();
    });
    return Promise.race([this.#read(), timeout]).finally(() => clearTimeout(timer));
  }
}
