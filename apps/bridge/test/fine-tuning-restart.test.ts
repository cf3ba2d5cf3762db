import { createHash } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JobState, parseTask } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Contract, parseEther } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fineTuningServingAbi } from "../src/zerog/fine-tuning/fine-tuning-contract.js";
import { tempDbPath, waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

let devnet: Devnet;
let dir: string;
const bridges: BridgeProcess[] = [];
beforeAll(async () => {
  devnet = await startDevnet({ providers: [], fineTuningProviders: [{}] });
  dir = await mkdtemp(join(tmpdir(), "ft-restart-"));
});
afterAll(async () => {
  for (const b of bridges) await b.dispose();
  await devnet?.close();
});

function start(dbPath: string) {
  return spawnBridge(devnet, {
    dbPath,
    args: [`--artifacts-dir=${join(dir, "artifacts")}`, `--dataset-dir=${dir}`, "--fine-tuning-poll=50"],
  }).then((b) => {
    bridges.push(b);
    return b;
  });
}

describe("a bridge killed with SIGKILL during training", () => {
  it("resumes from the job's checkpoint: the same task, no second upload, no second payment", async () => {
    const ft = devnet.fineTuningProviders[0]!;
    ft.setTiming({ trainingMs: 3000, trainingSteps: 6 });
    const dbPath = tempDbPath();
    const first = await start(dbPath);
    const parsed = parseTask({
      task_type: "fine-tuning",
      model: "Qwen2.5-0.5B-Instruct",
      inputs: { dataset: '{"instruction":"Say hi","output":"hi"}\n', extras: { num_train_epochs: 1 } },
    });
    if (!parsed.ok) throw new Error("bad task");
    const { jobId } = await first.compute().submit({ task: parsed.task });
    // Killed while the provider trains, after the bridge has seen (and checkpointed) it.
    await waitFor(async () => (await first.compute().getJob({ jobId })).stage === "Training", {
      timeoutMs: 30_000,
      what: "the job to be training",
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const [task] = ft.tasks();
    expect(task?.progress).toBe("Training");

    ft.setTiming({ trainingMs: 100, trainingSteps: 4 });
    const second = await start(dbPath);
    const result = await second.compute().getResult({ jobId, wait: true, timeoutSeconds: 60 });
    const job = await second.compute().getJob({ jobId });
    expect(job).toMatchObject({ state: JobState.SUCCEEDED, attempts: 2 });
    expect(result.proof?.fineTuning?.taskId).toBe(task?.id);
    expect(ft.stats).toMatchObject({ tasksCreated: 1, datasetsUploaded: 1, settlementTxs: 1 });
    const output = JSON.parse(result.output) as { path: string; sha256: string };
    expect(
      createHash("sha256")
        .update(await readFile(output.path))
        .digest("hex"),
    ).toBe(output.sha256);

    // One transfer into the sub-account (the contract's 1 0G minimum), one fee out of it.
    const serving = new Contract(devnet.contracts.fineTuning, fineTuningServingAbi, devnet.chain.provider);
    const account = await serving.getFunction("getAccount")(devnet.userAddress, ft.address);
    expect(account.balance).toBe(parseEther("1") - BigInt(result.usage!.feeNeuron));
  });
});
