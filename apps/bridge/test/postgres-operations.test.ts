import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
import { ZeroGError } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthCheck } from "../src/health-check.js";
import { launch, type RunningBridge } from "../src/launcher.js";
import { demoTask, testConfig, waitFor } from "./harness.js";
import { startPostgres, type TestPostgres } from "./postgres.js";
import { histogram, parseExposition, sample } from "./prometheus.js";

// The operations half on the Postgres store: metrics and health of two bridges sharing one database,
// and the in-flight jobs quota of a key across them (counted in the shared store).

const apiKey = "zk_postgres_ops_0123456789abcdef";
let devnet: Devnet;
let postgres: TestPostgres;
let databaseUrl: string;
const bridges: RunningBridge[] = [];
const adapters: ZeroGComputeAdapter[] = [];

beforeAll(async () => {
  [devnet, postgres] = await Promise.all([startDevnet(), startPostgres()]);
  databaseUrl = await postgres.createDatabase();
  for (let i = 0; i < 2; i++) {
    const config = testConfig({
      databaseUrl,
      leaseSeconds: 2,
      apiKey,
      maxJobsInFlight: 1,
      metrics: "public",
      chainCheckSeconds: 1,
    });
    bridges.push(await launch(config, pino({ level: "silent" }), { devnet }));
  }
});
afterAll(async () => {
  for (const a of adapters) a.close();
  for (const b of bridges) await b.stop();
  await devnet?.close();
  await postgres?.close();
});

const url = (b: RunningBridge) => `http://127.0.0.1:${b.address.port}`;
function adapter(b: RunningBridge): ZeroGComputeAdapter {
  const a = new ZeroGComputeAdapter({
    grpcUrl: url(b),
    apiKey,
    timeoutSeconds: 60,
    verify: { policy: b.verification.policy },
  });
  adapters.push(a);
  return a;
}
const scrape = async (b: RunningBridge) => parseExposition(await (await fetch(`${url(b)}/metrics`)).text());
const setLatency = (latencyMs: number) =>
  Promise.all(devnet.providers.map((p) => p.setFaults({ latencyMs })));

describe("two bridges on one Postgres: metrics, quota, health", () => {
  it("metrics: jobs of both bridges by state, and the Postgres store's operations timed", async () => {
    const [a, b] = bridges as [RunningBridge, RunningBridge];
    const onA = adapter(a);
    const onB = adapter(b);
    await onA.result(await onA.submit({ ...demoTask, inputs: { prompt: "metrics on A" } }), { wait: true });
    await onB.result(await onB.submit({ ...demoTask, inputs: { prompt: "metrics on B" } }), { wait: true });
    const m = await scrape(a);
    // The store is shared: A counts B's job too.
    expect(sample(m, "zerog_jobs", { state: "succeeded" })).toBe(2);
    for (const operation of ["insert", "durable", "claim", "get", "counts"])
      expect(
        histogram(m, "zerog_store_operation_seconds", { operation })?.count,
        operation,
      ).toBeGreaterThanOrEqual(1);
    expect(sample(m, "zerog_health_serving", { component: "store" })).toBe(1);
  });

  it("the jobs quota is the key's across bridges: a job on A holds B's Submits too; its end, seen by either, frees the place", async () => {
    const [a, b] = bridges as [RunningBridge, RunningBridge];
    const onA = adapter(a);
    const onB = adapter(b);
    await setLatency(1500);
    try {
      const first = await onA.submit({ ...demoTask, inputs: { prompt: "quota: first on A" } });
      for (const [on, where] of [
        [onA, "A"],
        [onB, "B"],
      ] as const) {
        const refused = await on
          .submit({ ...demoTask, inputs: { prompt: `quota: second on ${where}` } })
          .catch((e) => e);
        expect(refused).toBeInstanceOf(ZeroGError);
        expect((refused as ZeroGError).code).toBe("quota_exceeded");
        expect((refused as ZeroGError).retryDelayMs).toBeGreaterThan(0);
      }
      // Both read the key's jobs in flight from the store, and each counts its own refusals.
      for (const bridge of [a, b]) {
        const m = await scrape(bridge);
        expect(sample(m, "zerog_jobs_in_flight", { key: "default" })).toBe(1);
        expect(sample(m, "zerog_quota_exceeded_total", { key: "default" })).toBeGreaterThanOrEqual(1);
      }
      // Whichever bridge ran it, the job's end frees the place on both.
      await onA.result(first, { wait: true });
      const onBJob = await onB.submit({ ...demoTask, inputs: { prompt: "quota: then on B" } });
      await onB.result(onBJob, { wait: true });
      const again = await onA.submit({ ...demoTask, inputs: { prompt: "quota: again on A" } });
      await onA.result(again, { wait: true });
      expect(sample(await scrape(b), "zerog_jobs_in_flight", { key: "default" })).toBe(0);
    } finally {
      await setLatency(0);
    }
  });

  it("health: NOT_SERVING naming the cause while Postgres is down (no password shown), SERVING once it is back", async () => {
    const a = bridges[0]!;
    const check = () => healthCheck([`--url=${url(a)}`, "--timeout=2"], {});
    expect(await check()).toEqual({ code: 0, line: "SERVING" });
    await postgres.stop();
    try {
      const down = await waitFor(
        async () => {
          const outcome = await check();
          return outcome.code === 1 ? outcome : undefined;
        },
        { what: "NOT_SERVING", timeoutMs: 20_000 },
      );
      expect(down.line).toMatch(/^NOT_SERVING: .+/);
      expect(down.line).not.toContain(new URL(databaseUrl).password);
      expect(sample(await scrape(a), "zerog_health_serving", { component: "store" })).toBe(0);
      // The quota is counted in the store: a Submit while it is down gets the store's error, not
      // quota_exceeded.
      const refused = await adapter(a)
        .submit({ ...demoTask, inputs: { prompt: "while Postgres is down" } })
        .catch((e: ZeroGError) => e.code);
      expect(refused).toBe("storage_unavailable");
    } finally {
      await postgres.start();
    }
    await waitFor(async () => (await check()).code === 0, { what: "SERVING again", timeoutMs: 30_000 });
    const m = await scrape(a);
    expect(sample(m, "zerog_health_serving", { component: "store" })).toBe(1);
    expect(sample(m, "zerog_jobs", { state: "succeeded" })).toBeGreaterThanOrEqual(4);
  });
});
