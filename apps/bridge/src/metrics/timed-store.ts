/** Operations of the job store that are timed (reads and writes; `durable` waits for the group commit). */
const timed = new Set([
  "insert",
  "get",
  "startNext",
  "update",
  "durable",
  "succeed",
  "fail",
  "cancel",
  "requeue",
  "result",
  "running",
  "list",
  "counts",
]);

/**
 * The store, with each operation's duration reported (a promise's when it settles). Methods run on
 * the store itself (its private fields need it as `this`).
 */
export function timeStore<S extends object>(
  store: S,
  observe: (operation: string, seconds: number) => void,
): S {
  return new Proxy(store, {
    get(target, prop, _receiver) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function" || typeof prop !== "string" || !timed.has(prop)) {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (...args: unknown[]) => {
        const started = performance.now();
        const done = () => observe(prop, (performance.now() - started) / 1000);
        let result: unknown;
        try {
          result = value.apply(target, args);
        } catch (err) {
          done();
          throw err;
        }
        if (result instanceof Promise) return result.finally(done);
        done();
        return result;
      };
    },
  });
}
