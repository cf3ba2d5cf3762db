/**
 * Runs on-chain transactions one at a time. The 0G SDK has no nonce management: two
 * transactions from one wallet sent at once can take the same nonce and one is lost.
 */
export class TxQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => {});
    return next;
  }
}
