/** Operations of the job store that are timed (reads and writes; `durable` waits for the group commit). */
const timed = new Set([
  "insert",
  "get",
  "getMany",
  "claim",
  "renew",
  "releaseExpired",
  "update",
  "checkpoint",
  "durable",
  "succeed",
  "fail",
  "cancel",
  "requeue",
  "result",
  "list",
  "counts",
  "deleteEnded",
  "deleteUnusedAttestations",
  "inFlightByKey",
]);

type Observe = (operation: string, seconds: number) => void;

/** `method` of `target`, reporting each call's duration (a promise's when it settles). */
function timedMethod(
  target: object,
  name: string,
  method: (...args: unknown[]) => unknown,
  observe: Observe,
) {
  return (...args: unknown[]) => {
    const started = performance.now();
    const done = () => observe(name, (performance.now() - started) / 1000);
    let result: unknown;
    try {
      result = method.apply(target, args);
    } catch (err) {
      done();
      throw err;
    }
    if (result instanceof Promise) return result.finally(done);
    done();
    return result;
  };
}

/**
 * The store, with each operation's duration reported. Methods run on the store itself (its private
 * fields need it as `this`); each is wrapped once, on first use.
 */
export function timeStore<S extends object>(store: S, observe: Observe): S {
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      let method = methods.get(prop);
      if (!method) {
        method =
          typeof prop === "string" && timed.has(prop)
            ? timedMethod(target, prop, value as (...args: unknown[]) => unknown, observe)
            : value.bind(target);
        methods.set(prop, method);
      }
      return method;
    },
  });
}
