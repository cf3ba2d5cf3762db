/**
 * One holder per key at a time, first come first served; waiting is abortable. 0G's fine-tuning providers
 * run one unfinished task per user, so a wallet's jobs on one provider take turns.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Waits for `key`, then returns the function that releases it. `onWait` is called once if the key is
   * held. Rejects with the signal's reason if it aborts first (the queue then skips this waiter).
   */
  async acquire(key: string, signal: AbortSignal, onWait?: () => void): Promise<() => void> {
    const previous = this.#tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = (previous ?? Promise.resolve()).then(() => mine);
    this.#tails.set(key, tail);
    const done = () => {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
    if (previous) {
      onWait?.();
      try {
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => reject(signal.reason);
          if (signal.aborted) return onAbort();
          signal.addEventListener("abort", onAbort, { once: true });
          previous.then(() => {
            signal.removeEventListener("abort", onAbort);
            resolve();
          });
        });
      } catch (err) {
        done();
        throw err;
      }
    }
    return done;
  }
}
