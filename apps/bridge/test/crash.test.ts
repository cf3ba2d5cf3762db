import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ComputeService, Health, JobState, parseTask } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTask, tempDbPath } from "./harness.js";

const bin = fileURLToPath(new URL("../bin/zerog-bridge.js", import.meta.url));
const port = 50_000 + Math.floor(Math.random() * 5000);
const baseUrl = `http://127.0.0.1:${port}`;
const dbPath = tempDbPath();

let devnet: Devnet;
const children: ChildProcess[] = [];
const sessions: Http2SessionManager[] = [];

beforeAll(async () => {
  devnet = await startDevnet();
  // Slow providers keep jobs running while the bridge is killed.
  for (const p of devnet.providers) await p.setFaults({ latencyMs: 1500 });
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const s of sessions) s.abort();
  await devnet?.close();
});

/** The bridge as a separate process, on the devnet as a "custom" 0G network, like testnet by config. */
function startBridgeProcess(): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      bin,
      "start",
      "--network=custom",
      `--rpc-url=${devnet.rpcUrl}`,
      `--ledger=${devnet.contracts.ledger}`,
      `--inference=${devnet.contracts.inference}`,
      `--fine-tuning=${devnet.contracts.fineTuning}`,
      `--port=${port}`,
      `--db=${dbPath}`,
      "--gas-price=1000000000",
      "--no-demo",
      "--log-level=warn",
    ],
    {
      env: { ...process.env, ZEROG_WALLET_KEY: devnet.userPrivateKey, ZEROG_API_KEY: "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.push(child);
  return child;
}

function clients() {
  const sessionManager = new Http2SessionManager(baseUrl);
  sessions.push(sessionManager);
  const transport = createGrpcTransport({ baseUrl, sessionManager });
  return { compute: createClient(ComputeService, transport), health: createClient(Health, transport) };
}

async function waitServing(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { health } = clients();
    try {
      if ((await health.check({ service: "" }, { timeoutMs: 1000 })).status === 1) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("bridge did not start");
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once("exit", (code) => resolve(code));
  });
}

describe("durability", () => {
  it("a bridge killed with SIGKILL mid-load restarts with every acknowledged job, and finishes them", async () => {
    const first = startBridgeProcess();
    await waitServing();
    const parsed = parseTask(demoTask);
    if (!parsed.ok) throw new Error("bad task");
    const { compute } = clients();
    const acknowledged: string[] = [];
    const submits = Array.from({ length: 40 }, (_, i) =>
      compute
        .submit({ task: { ...parsed.task, inputs: { ...parsed.task.inputs!, prompt: `job ${i}` } } })
        .then((r) => acknowledged.push(r.jobId))
        .catch(() => {}),
    );
    // Kill while submits are still arriving and the first jobs are running.
    await new Promise((r) => setTimeout(r, 600));
    first.kill("SIGKILL");
    await Promise.all(submits);
    await exited(first);
    expect(acknowledged.length).toBeGreaterThan(5);

    const second = startBridgeProcess();
    await waitServing();
    const after = clients().compute;
    for (const jobId of acknowledged) {
      const job = await after.getJob({ jobId });
      expect(job.jobId).toBe(jobId);
    }
    for (const p of devnet.providers) await p.setFaults({});
    for (const jobId of acknowledged) {
      const result = await after.getResult({ jobId, wait: true, timeoutSeconds: 120 });
      expect(result.output).not.toBe("");
    }
    const resumed = (await Promise.all(acknowledged.map((jobId) => after.getJob({ jobId })))).filter(
      (j) => j.attempts > 1,
    );
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((j) => j.state === JobState.SUCCEEDED)).toBe(true);

    // The job store holds no secret.
    for (const file of [dbPath, `${dbPath}-wal`].filter((f) => existsSync(f))) {
      expect(readFileSync(file).includes(Buffer.from(devnet.userPrivateKey.slice(2)))).toBe(false);
    }

    // SIGTERM: graceful stop, exit 0.
    second.kill("SIGTERM");
    expect(await exited(second)).toBe(0);
  });
});
