import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { HealthCheckResponse_ServingStatus } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageNodeArgs } from "./image.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

/**
 * The bridge's V8 heap settings (README, "Memory") keep its peak RSS down without capping the heap:
 * requests of the largest size allowed, several at once, must still be taken, by the bridge run with
 * the Node flags of the Docker image (and so of `npm start`) plus those its bin sets.
 */
const root = fileURLToPath(new URL("../../../", import.meta.url));
const nodeArgs = imageNodeArgs(root);

let devnet: Devnet;
let bridge: BridgeProcess;

beforeAll(async () => {
  devnet = await startDevnet();
  // The provider never answers in time: the jobs stay queued or running, their requests in memory.
  for (const p of devnet.providers) await p.setFaults({ latencyMs: 600_000 });
  bridge = await spawnBridge(devnet, { nodeArgs, args: ["--concurrency=4"] });
});
afterAll(async () => {
  await bridge?.dispose();
  await devnet?.close();
});

/** A Submit over Connect JSON whose body is just under 8 MiB: 8 messages of almost 1 MiB each. */
function largeSubmit(i: number): Promise<Response> {
  const content = `${i} ${"x".repeat(1_040_000)}`;
  const body = JSON.stringify({
    task: {
      task_type: "TASK_TYPE_INFERENCE",
      model: "llama-3-8b",
      inputs: { messages: Array.from({ length: 8 }, () => ({ role: "user", content })) },
      verification: "VERIFICATION_METHOD_TEE_ML",
    },
  });
  expect(body.length).toBeGreaterThan(8_300_000);
  expect(body.length).toBeLessThan(8 * 1024 * 1024);
  return fetch(`${bridge.baseUrl}/chaoschain.zerog.v1.ComputeService/Submit`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

describe("memory settings", () => {
  it("the Docker image runs the bridge with a young generation of bounded size, V8's memory reducer off, and no heap cap", () => {
    expect(nodeArgs).toContainEqual(expect.stringMatching(/^--max-semi-space-size=\d+$/));
    expect(nodeArgs).toContain("--no-memory-reducer");
    expect(nodeArgs.filter((arg) => /old-space|max-heap/.test(arg))).toEqual([]);
    const start = JSON.parse(readFileSync(`${root}package.json`, "utf8")).scripts.start as string;
    for (const arg of nodeArgs) expect(start).toContain(arg);
  });

  it("takes 8 MiB Submits, 8 at once and twice over, and stays serving", async () => {
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => largeSubmit(round * 8 + i)));
      for (const res of answers) {
        expect(res.status).toBe(200);
        expect((await res.json()).jobId).toMatch(/^job_/);
      }
    }
    const health = await bridge.health().check({ service: "" });
    expect(health.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const listed = await bridge.compute().listJobs({ pageSize: 100 });
    expect(listed.jobs).toHaveLength(16);
  });
});
