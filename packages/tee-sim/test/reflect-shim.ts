// @peculiar/x509 (via tsyringe) needs a Reflect metadata polyfill; this minimal one is enough for tests.
const store = new WeakMap<object, Map<unknown, unknown>>();
const r = Reflect as unknown as Record<string, unknown>;
if (typeof r.getMetadata !== "function") {
  r.defineMetadata = (key: unknown, value: unknown, target: object) => {
    const m = store.get(target) ?? new Map();
    m.set(key, value);
    store.set(target, m);
  };
  r.getMetadata = (key: unknown, target: object) => store.get(target)?.get(key);
  r.getOwnMetadata = r.getMetadata;
  r.hasMetadata = (key: unknown, target: object) => store.get(target)?.has(key) ?? false;
  r.metadata = (key: unknown, value: unknown) => (target: object) => {
    (r.defineMetadata as (k: unknown, v: unknown, t: object) => void)(key, value, target);
  };
}

export {};
