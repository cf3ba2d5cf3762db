/**
 * Shares one in-flight or settled promise per key: concurrent callers wait for the same work.
 * A rejected promise is forgotten at once (the next call tries again); a fulfilled one is kept for
 * `ttlMs` (default: for good).
 */
export class PromiseCache<K, V> {
  readonly #entries = new Map<K, { at: number; value: Promise<V> }>();
  readonly #ttlMs: number;

  constructor(ttlMs = Number.POSITIVE_INFINITY) {
    this.#ttlMs = ttlMs;
  }

  get(key: K, make: () => Promise<V>): Promise<V> {
    const entry = this.#entries.get(key);
    if (entry && Date.now() - entry.at < this.#ttlMs) return entry.value;
    const value = make();
    this.#entries.set(key, { at: Date.now(), value });
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    return value;
  }

  /** Forgets `key`: the next `get` makes a fresh value. */
  delete(key: K): void {
    this.#entries.delete(key);
  }
}
