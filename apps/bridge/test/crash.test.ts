import { existsSync, readFileSync } from "node:fs";
import { FailureReason, JobState, parseTask } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTask, tempDbPath, waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

const dbPath = tempDbPath();
let devnet: Devnet;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  devnet = await startDevnet();
  // Slow providers keep jobs running while the bridge is killed.
  for (const p of devnet.providers) await p.setFaults({ latencyMs: 1500 });
});
afterAll(async () => {
  for (const b of bridges) await b.dispose();
  await devnet?.close();
});

describe("durability", () => {
  it("a bridge killed with SIGKILL mid-load restarts with every acknowledged job, ends each once, and sends none twice", async () => {
    const first = await spawnBridge(devnet, { dbPath });
    bridges.push(first);
    const parsed = parseTask(demoTask);
    if (!parsed.ok) throw new Error("bad task");
    const compute = first.compute();
    const acknowledged: string[] = [];
    const submits = Array.from({ length: 40 }, (_, i) =>
      compute
        .submit({ task: { ...parsed.task, inputs: { ...parsed.task.inputs!, prompt: `job ${i}` } } })
        .then((r) => acknowledged.push(r.jobId))
        .catch(() => {}),
    );
    // Kill while submits are still arriving and the first jobs are running.
    await waitFor(
      async () =>
        acknowledged.length >= 5 &&
        (await compute.getJob({ jobId: acknowledged[0]! })).state === JobState.RUNNING,
      { what: "running jobs" },
    );
    first.child.kill("SIGKILL");
    await Promise.all(submits);
    await first.exited;
    expect(acknowledged.length).toBeGreaterThan(5);

    const second = await spawnBridge(devnet, { dbPath });
    bridges.push(second);
    const after = second.compute();
    for (const jobId of acknowledged) {
      const job = await after.getJob({ jobId });
      expect(job.jobId).toBe(jobId);
    }
    for (const p of devnet.providers) await p.setFaults({});
    for (const jobId of acknowledged)
      await after.getResult({ jobId, wait: true, timeoutSeconds: 120 }).catch(() => {});
    const jobs = await Promise.all(acknowledged.map((jobId) => after.getJob({ jobId })));
    const resumed = jobs.filter((j) => j.attempts > 1);
    expect(resumed.length).toBeGreaterThan(0);
    // The attempt policy: a job whose request had left when the bridge died is not sent again (the
    // provider may have charged for it); it fails interrupted, saying so. Every other job succeeds.
    for (const job of jobs) {
      if (job.state === JobState.SUCCEEDED) continue;
      expect(resumed).toContain(job);
      expect(job.error?.reason).toBe(FailureReason.INTERRUPTED);
      expect(job.error?.message).toMatch(/not sent again: the provider may have charged for it/);
    }
    expect(jobs.filter((j) => j.state === JobState.SUCCEEDED).length).toBeGreaterThan(5);
    const bills = new Map<string, number>();
    for (const p of devnet.providers) {
      for (const r of p.billedRequests()) bills.set(r.prompt, (bills.get(r.prompt) ?? 0) + 1);
    }
    expect(Math.max(...bills.values())).toBe(1);

    // The job store holds no secret.
    for (const file of [dbPath, `${dbPath}-wal`].filter((f) => existsSync(f))) {
      expect(readFileSync(file).includes(Buffer.from(devnet.userPrivateKey.slice(2)))).toBe(false);
    }

    // SIGTERM: graceful stop, exit 0.
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  });
});
