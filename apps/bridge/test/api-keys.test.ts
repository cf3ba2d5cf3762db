import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RetryInfoSchema, type ZeroGError } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejection } from "./clients.js";
import { task, waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";
import { parseExposition, sample } from "./prometheus.js";

const keyA = "zk_agent_a_5f0c1d2e3b4a69788796a5b4";
const keyB = "zk_agent_b_0a1b2c3d4e5f60718293a4b5";
const keyC = "zk_agent_c_99887766554433221100ffee";
const keysFile = join(tmpdir(), `zerog-keys-${process.pid}.json`);
const writeKeys = (keys: unknown[]) => writeFileSync(keysFile, JSON.stringify({ keys }), { mode: 0o600 });

let devnet: Devnet;
let bridge: BridgeProcess;

beforeAll(async () => {
  devnet = await startDevnet();
  writeKeys([
    { id: "agent-a", key: keyA, maxJobsInFlight: 1 },
    { id: "agent-b", key: keyB, rateLimit: 1, rateBurst: 2 },
  ]);
  bridge = await spawnBridge(devnet, {
    args: [`--api-keys-file=${keysFile}`, "--log-level=info", "--metrics=public"],
  });
});
afterAll(async () => {
  await bridge?.dispose();
  await devnet?.close();
});

/** Waits until calls with `key` are refused UNAUTHENTICATED (after a rotation). */
function refused(key: string, what: string) {
  return waitFor(
    async () =>
      (await rejection(bridge.compute(key).listJobs({})).catch(() => undefined))?.code ===
      Code.Unauthenticated,
    { what, timeoutMs: 15_000 },
  );
}

async function metrics() {
  const res = await fetch(`${bridge.baseUrl}/metrics`);
  return parseExposition(await res.text());
}

describe("API keys from a file, per-key limits (a bridge process)", () => {
  it("admits each key of the file, and logs and counts calls by key id, never the key", async () => {
    await bridge.compute(keyA).listJobs({});
    await bridge.compute(keyB).listJobs({});
    expect((await rejection(bridge.compute("zk_not_a_key_at_all_000000").listJobs({}))).code).toBe(
      Code.Unauthenticated,
    );
    const m = await metrics();
    const method = "chaoschain.zerog.v1.ComputeService/ListJobs";
    expect(sample(m, "zerog_rpc_calls_total", { method, code: "ok", key: "agent-a" })).toBe(1);
    expect(sample(m, "zerog_rpc_calls_total", { method, code: "unauthenticated", key: "" })).toBe(1);
    expect(sample(m, "zerog_api_keys")).toBe(2);
    expect(bridge.stderr()).toMatch(/"keys":\["agent-a","agent-b"\]/);
    for (const key of [keyA, keyB]) expect(bridge.stderr()).not.toContain(key);
  });

  it("refuses calls over a key's rate with RESOURCE_EXHAUSTED and a RetryInfo delay; other keys go on", async () => {
    const client = bridge.compute(keyB);
    // The burst of 2 may be partly spent by the previous test: spend what is left.
    let err: Awaited<ReturnType<typeof rejection>> | undefined;
    for (let i = 0; i < 3 && !err; i++)
      err = await client.listJobs({}).then(
        () => undefined,
        (e) => e,
      );
    expect(err?.code).toBe(Code.ResourceExhausted);
    const delay = err!.findDetails(RetryInfoSchema)[0]?.retryDelay;
    expect(Number(delay?.seconds ?? 0) * 1000 + (delay?.nanos ?? 0) / 1e6).toBeGreaterThan(0);
    expect(err!.rawMessage).toMatch(/API key agent-b is over its rate of 1 calls per second/);
    expect((await bridge.compute(keyA).listJobs({})).jobs).toBeDefined();
    // Through the adapter: rate_limited with the delay to wait.
    const { ZeroGComputeAdapter } = await import("@chaoschain/zerog-adapter");
    const zerog = new ZeroGComputeAdapter({ grpcUrl: `127.0.0.1:${bridge.port}`, apiKey: keyB });
    try {
      const refused = await zerog.listJobs().catch((e: ZeroGError) => e);
      expect((refused as ZeroGError).code).toBe("rate_limited");
      expect((refused as ZeroGError).retryDelayMs).toBeGreaterThan(0);
      expect((refused as ZeroGError).retryDelayMs).toBeLessThanOrEqual(1000);
    } finally {
      zerog.close();
    }
    // Connect over HTTP/1.1: 429 with Retry-After.
    const res = await fetch(`${bridge.baseUrl}/chaoschain.zerog.v1.ComputeService/ListJobs`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${keyB}` },
      body: "{}",
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(sample(await metrics(), "zerog_rate_limited_total", { key: "agent-b" })).toBeGreaterThanOrEqual(2);
  });

  it("refuses a Submit over a key's in-flight jobs quota until its job ends", async () => {
    const provider = devnet.providers.find((p) => p.models.includes("llama-3-8b"))!;
    const others = devnet.providers.filter((p) => p !== provider);
    // Both llama providers slow: the first job stays running a while.
    await Promise.all([provider, ...others].map((p) => p.setFaults({ latencyMs: 1500 })));
    try {
      const client = bridge.compute(keyA);
      const { jobId } = await client.submit({ task: task() });
      const refused = await rejection(client.submit({ task: task({ inputs: { prompt: "second" } }) }));
      expect(refused.code).toBe(Code.ResourceExhausted);
      expect(refused.rawMessage).toMatch(/API key agent-a has 1 job\(s\) queued or running, its maximum/);
      expect(refused.findDetails(RetryInfoSchema)).toHaveLength(1);
      expect(sample(await metrics(), "zerog_jobs_in_flight", { key: "agent-a" })).toBe(1);
      // Another key is not held by agent-a's quota.
      await bridge
        .compute(keyB)
        .submit({ task: task({ inputs: { prompt: "b's job" } }) })
        .catch(() => {});
      await client.getResult({ jobId, wait: true });
      const next = await waitFor(
        () => client.submit({ task: task({ inputs: { prompt: "after" } }) }).catch(() => undefined),
        { what: "a Submit once the first job ended" },
      );
      expect(next.jobId).toMatch(/^job_/);
      await client.getResult({ jobId: next.jobId, wait: true });
      expect(
        sample(await metrics(), "zerog_quota_exceeded_total", { key: "agent-a" }),
      ).toBeGreaterThanOrEqual(1);
      // The store counts by key id: it holds the id, never the key nor its digest.
      const stored = Buffer.concat(
        [bridge.dbPath, `${bridge.dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f)),
      );
      expect(stored.includes("agent-a")).toBe(true);
      const digest = createHash("sha256").update(keyA).digest();
      for (const secret of [keyA, digest.toString("hex"), digest])
        expect(stored.includes(secret)).toBe(false);
    } finally {
      await Promise.all(devnet.providers.map((p) => p.setFaults({})));
    }
  });

  it("rotates keys without a restart: on SIGHUP, and when the file changes; a broken file keeps the keys", async () => {
    writeKeys([{ id: "agent-c", key: keyC }]);
    bridge.child.kill("SIGHUP");
    await refused(keyA, "agent-a's key refused");
    expect((await bridge.compute(keyC).listJobs({})).jobs).toBeDefined();
    // A broken file (mid-write, a typo): the keys in force stay, the log says why.
    writeFileSync(keysFile, '{"keys": [{"id": "agent-d", "key": "short"}]}');
    bridge.child.kill("SIGHUP");
    await waitFor(() => /API keys not reloaded/.test(bridge.stderr()), { what: "the reload error" });
    expect((await bridge.compute(keyC).listJobs({})).jobs).toBeDefined();
    // Without a signal: the file is watched.
    writeKeys([{ id: "agent-a", key: keyA }]);
    await refused(keyC, "agent-c's key refused after the file changed");
    expect((await bridge.compute(keyA).submit({ task: task() })).jobId).toMatch(/^job_/);
    const m = await metrics();
    expect(sample(m, "zerog_api_key_reloads_total", { result: "failed" })).toBeGreaterThanOrEqual(1);
    expect(sample(m, "zerog_api_key_reloads_total", { result: "ok" })).toBeGreaterThanOrEqual(2);
    // Nowhere: not in the log, not in the job store (with its WAL).
    const stored = ["", "-wal"].map((s) =>
      existsSync(bridge.dbPath + s) ? readFileSync(bridge.dbPath + s) : Buffer.alloc(0),
    );
    for (const key of [keyA, keyB, keyC]) {
      expect(bridge.stderr()).not.toContain(key);
      for (const bytes of stored) expect(bytes.includes(key)).toBe(false);
    }
  });
});

describe("GET /metrics with --metrics operator (a bridge process with tenants)", () => {
  it("serves the metrics, which name every key, only to an operator key; a tenant's key is refused", async () => {
    const opsKey = "zk_operator_7e6d5c4b3a29180716f5";
    const opsFile = join(tmpdir(), `zerog-keys-ops-${process.pid}.json`);
    writeFileSync(
      opsFile,
      JSON.stringify({
        keys: [
          { id: "ops", key: opsKey, allJobs: true },
          { id: "agent-a", key: keyA },
        ],
      }),
      { mode: 0o600 },
    );
    const tenants = await spawnBridge(devnet, { args: [`--api-keys-file=${opsFile}`, "--metrics=operator"] });
    try {
      const scrape = (key?: string) =>
        fetch(`${tenants.baseUrl}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
      await tenants.compute(keyA).listJobs({});
      for (const key of [keyA, undefined, "zk_not_a_key_at_all_000000"]) {
        const refused = await scrape(key);
        expect(refused.status).toBe(401);
        const text = await refused.text();
        expect(text).toContain('"allJobs": true');
        expect(text).not.toContain("agent-a");
      }
      const served = await scrape(opsKey);
      expect(served.status).toBe(200);
      const m = parseExposition(await served.text());
      const method = "chaoschain.zerog.v1.ComputeService/ListJobs";
      expect(sample(m, "zerog_rpc_calls_total", { method, code: "ok", key: "agent-a" })).toBe(1);
    } finally {
      await tenants.dispose();
    }
  });
});
