import { setImmediate } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/**
 * Full garbage collections, finalizers included. Node 20's fetch (undici 6) holds its Request, the link
 * from the caller's signal to the fetch, only weakly once the response headers are in: tests of an abort
 * during a body collect garbage first, as a busy bridge does at any time.
 */
export async function collectGarbage(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await setImmediate();
  }
}

/** `promise`, collecting garbage every 20 ms until it settles. */
export async function collectingGarbage<T>(promise: Promise<T>): Promise<T> {
  let settled = false;
  const done = promise.finally(() => {
    settled = true;
  });
  done.catch(() => {});
  while (!settled) {
    await collectGarbage();
    await new Promise((r) => setTimeout(r, 20));
  }
  return done;
}
