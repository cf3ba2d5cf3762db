import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import {
  BadRequestSchema,
  FailureReason,
  type JobEvent,
  JobState,
  parseTask,
  TaskType,
} from "@chaoschain/zerog-core";
import { FINE_TUNING_STATUSES } from "@chaoschain/zerog-devnet";
import {
  createPcsCollateralSource,
  createVerificationCache,
  type PolicyInput,
  verifyProof,
} from "@chaoschain/zerog-verifier";
import { Code } from "@connectrpc/connect";
import { Contract } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createQuoteGate } from "../src/quote-gate.js";
import { fetchAttestation } from "../src/zerog/provider-http.js";
import { rejection } from "./clients.js";
import { startTestBridge, type TestBridge, waitFor } from "./harness.js";

const DATASET = '{"instruction":"Say hi","output":"hi"}\n{"instruction":"Count to 3","output":"1 2 3"}\n';

let t: TestBridge;
let datasetDir: string;
beforeAll(async () => {
  datasetDir = await mkdtemp(join(tmpdir(), "ft-datasets-"));
  // Three fine-tuning providers: each scenario pins its own, so faults and tasks never meet.
  t = await startTestBridge({
    devnet: { fineTuningProviders: [{}, {}, {}] },
    bridge: {
      fineTuning: {
        artifactsDir: join(datasetDir, "..", `${datasetDir.split("/").at(-1)}-artifacts`),
        datasetDir,
        httpsHosts: [],
        pollIntervalMs: 25,
        maxRunSeconds: 86_400,
        downloadTimeoutSeconds: 7200,
      },
    },
  });
});
afterAll(async () => {
  await t?.close();
});
const ft = (i: number) => t.devnet.fineTuningProviders[i]!;

function fineTuningTask(
  provider: number,
  inputs: Record<string, unknown> = {},
  overrides: Record<string, unknown> = {},
) {
  const parsed = parseTask({
    task_type: "fine-tuning",
    model: "Qwen2.5-0.5B-Instruct",
    inputs: { dataset: DATASET, ...inputs },
    verification: "tee-ml",
    provider_address: ft(provider).address,
    ...overrides,
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.violations));
  return parsed.task;
}

/** Everything the chain holds of the bridge's wallet that a job could spend. */
async function balances(provider: number) {
  const chain = t.devnet.chain.provider;
  const user = t.devnet.userAddress;
  const ledger = new Contract(
    t.devnet.contracts.ledger,
    [
      "function getLedger(address) view returns ((address, uint256 availableBalance, uint256 totalBalance, string))",
    ],
    chain,
  );
  const serving = new Contract(
    t.devnet.contracts.fineTuning,
    ["function accountExists(address, address) view returns (bool)"],
    chain,
  );
  const entry = await ledger
    .getFunction("getLedger")(user)
    .catch(() => undefined);
  return {
    wallet: await chain.getBalance(user),
    nonce: await chain.getTransactionCount(user),
    ledger: entry ? [entry.availableBalance, entry.totalBalance] : "none",
    subAccount: await serving.getFunction("accountExists")(user, ft(provider).address),
  };
}

describe("fine-tuning jobs through the bridge on the devnet", () => {
  it("dataset in, encrypted model out: progress through WatchJob, the model decrypted and hash-checked, a proof that verifies offline", async () => {
    const client = t.client();
    const { jobId } = await client.submit({ task: fineTuningTask(0, { extras: { num_train_epochs: 2 } }) });
    const events: JobEvent[] = [];
    for await (const event of client.watchJob({ jobId })) events.push(event);
    const result = await client.getResult({ jobId, wait: true, timeoutSeconds: 60 });

    const output = JSON.parse(result.output) as { path: string; sha256: string; size: number };
    const model = await readFile(output.path);
    expect(createHash("sha256").update(model).digest("hex")).toBe(output.sha256);
    expect(model.length).toBe(output.size);
    expect((await stat(output.path)).mode & 0o777).toBe(0o600);
    const task = ft(0).task(result.proof!.fineTuning!.taskId)!;
    expect(Buffer.compare(model, Buffer.from(task.delivery!.plaintext))).toBe(0);
    expect(BigInt(result.usage!.feeNeuron)).toBe(BigInt(task.fee));

    // The provider's stages in order, with the training steps, and a fraction that only grows.
    const order: readonly string[] = FINE_TUNING_STATUSES;
    const stages = events.map((e) => e.job!.stage).filter((s, i, a) => s !== "" && s !== a[i - 1]);
    expect(stages.map((s) => order.indexOf(s))).toEqual(
      [...stages.map((s) => order.indexOf(s))].sort((a, b) => a - b),
    );
    expect(stages).toEqual(expect.arrayContaining(["Training", "Delivered", "UserAcknowledged", "Finished"]));
    expect(events.some((e) => /^training, step [1-4] of 4$/.test(e.job!.message))).toBe(true);
    const fractions = events.map((e) => e.job!.progress);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);
    expect(events.at(-1)!.job).toMatchObject({ state: JobState.SUCCEEDED, progress: 1, stage: "Finished" });
    expect((await client.getJob({ jobId })).providerAddress.toLowerCase()).toBe(ft(0).address.toLowerCase());

    // Offline, trusting neither the bridge nor the provider (only the devnet's test PKI): the proof embeds
    // the collateral its quote was checked against, fetched from the devnet's PCCS.
    expect(result.proof?.tee?.collateral?.sourceUrl).toBe(t.devnet.pccs!.url);
    expect(result.bridgeChecks).toMatchObject({ signatureVerified: true, quoteVerified: true, skipped: [] });
    const report = await verifyProof(
      { output: result.output, proof: result.proof! },
      {
        now: Math.floor(Date.now() / 1000),
        policy: t.devnet.policy!,
      },
    );
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.name === "fine_tuning.settlement_signature")?.status).toBe("pass");
  });

  it("the README's curl example submits a fine-tuning job that succeeds", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const example = /```sh\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("## Fine-tuning")))![1]!;
    const { stdout } = await promisify(execFile)("sh", [
      "-c",
      example.replace("http://127.0.0.1:50051", t.baseUrl),
    ]);
    const { jobId } = JSON.parse(stdout) as { jobId: string };
    const result = await t.client().getResult({ jobId, wait: true, timeoutSeconds: 60 });
    expect(JSON.parse(result.output)).toMatchObject({ sha256: result.proof?.fineTuning?.artifactSha256 });
    expect(JSON.parse(result.proof!.fineTuning!.trainingParams)).toEqual({ num_train_epochs: 2 });
  });

  it("before paying a provider, its attestation goes through every attestation step of the bridge's policy", async () => {
    const attestation = await fetchAttestation(ft(0).url, {
      signal: AbortSignal.timeout(10_000),
      timeoutMs: 10_000,
    });
    const cache = createVerificationCache();
    const gate = (policy: PolicyInput) =>
      createQuoteGate({
        source: createPcsCollateralSource({ url: t.devnet.pccs!.url }),
        policy,
        skipQuote: false,
      });
    const policy = t.devnet.policy!;
    const collateral = await gate(policy).admit(attestation, ft(0).teeAddress, "ft0", cache);
    expect(collateral?.source_url).toBe(t.devnet.pccs!.url);
    // Another workload pinned, or another enclave key claimed: refused, naming the step.
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => "admitted",
        (e: Error) => e.message,
      );
    expect(
      await refusal(
        gate({ ...policy, dockerDigests: [`sha256:${"00".repeat(32)}`] }).admit(
          attestation,
          ft(0).teeAddress,
          "ft0",
          cache,
        ),
      ),
    ).toMatch(
      /^the TEE attestation of provider ft0 does not verify: tee.workload: docker_digest_not_allowed: /,
    );
    expect(await refusal(gate(policy).admit(attestation, ft(1).teeAddress, "ft0", cache))).toMatch(
      /does not verify: tee.report_data: report_data_mismatch: /,
    );
  });

  it("ListServices names the base models that can be fine-tuned (service_type fine-tuning; inference alone by default)", async () => {
    expect((await t.client().listServices({ model: "devnet-mini-lm" })).services).toEqual([]);
    const { services } = await t
      .client()
      .listServices({ model: "devnet-mini-lm", serviceType: "fine-tuning" });
    expect(services.map((s) => [s.serviceType, s.gpuType])).toEqual([
      ["fine-tuning", "H200"],
      ["fine-tuning", "H200"],
      ["fine-tuning", "H200"],
    ]);
  });

  it("training from scratch is refused at submit, naming what 0G offers instead", async () => {
    const err = await rejection(
      t.client().submit({ task: fineTuningTask(0, {}, { task_type: "training", model: "my-own-llm" }) }),
    );
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toMatch(
      /training from scratch is not offered by any 0G provider: 0G offers fine-tuning of a base model on your dataset; submit task_type "fine-tuning" with one of the base models on offer: Qwen2.5-0.5B-Instruct, devnet-mini-lm/,
    );
  });

  it("an invalid dataset or training parameter is refused at submit, naming the field; nothing is spent", async () => {
    const before = await balances(1);
    const client = t.client();
    const bad = await rejection(
      client.submit({ task: fineTuningTask(1, { dataset: '{"text":"a"}\n{"text":' }) }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(
      bad.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => [v.field, v.description]),
    ).toEqual([["task.inputs.dataset", "line 2 is not JSON"]]);
    const params = await rejection(
      client.submit({ task: fineTuningTask(1, { extras: { epochs: 3, lora_r: 0 } }) }),
    );
    expect(params.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual([
      "task.inputs.extras.epochs",
      "task.inputs.extras.lora_r",
    ]);
    expect(await balances(1)).toEqual(before);
  });

  it("a dataset that turns invalid after submit fails the job invalid_input before any payment", async () => {
    const path = join(datasetDir, "changing.jsonl");
    await writeFile(path, DATASET);
    const ft1 = ft(1);
    await ft1.setFaults({ holdAt: "Init" });
    const client = t.client();
    try {
      // Queued behind a held job, so that the file changes before this one runs.
      const blocker = await client.submit({ task: fineTuningTask(1) });
      await waitFor(async () => (await client.getJob({ jobId: blocker.jobId })).stage === "Init", {
        timeoutMs: 30_000,
      });
      const before = await balances(1);
      const { jobId } = await client.submit({
        task: fineTuningTask(1, { dataset: pathToFileURL(path).href }),
      });
      await writeFile(path, '{"text":"a"}\nnot json\n');
      await client.cancelJob({ jobId: blocker.jobId });
      const job = await waitFor(
        async () => {
          const j = await client.getJob({ jobId });
          return j.state === JobState.FAILED ? j : undefined;
        },
        { timeoutMs: 30_000 },
      );
      expect(job.error).toMatchObject({
        reason: FailureReason.INVALID_INPUT,
        message: "the dataset was refused before anything was paid: line 2 is not JSON",
      });
      expect(await balances(1)).toEqual(before);
    } finally {
      await ft1.setFaults({});
    }
  });

  it("CancelJob while the provider can still cancel (SetUp) cancels the task there too", async () => {
    const ft2 = ft(2);
    await ft2.setFaults({ holdAt: "SetUp" });
    const client = t.client();
    try {
      const { jobId } = await client.submit({ task: fineTuningTask(2) });
      await waitFor(async () => (await client.getJob({ jobId })).stage === "SetUp", { timeoutMs: 30_000 });
      const { job } = await client.cancelJob({ jobId });
      expect(job?.state).toBe(JobState.CANCELLED);
      const task = await waitFor(() => ft2.tasks().find((x) => x.progress === "Failed"), {
        timeoutMs: 10_000,
      });
      expect(task.log.at(-1)).toMatch(/cancelled by the user/);
      expect(ft2.stats.tasksCancelled).toBe(1);
    } finally {
      await ft2.setFaults({});
    }
  });

  it("a provider failing mid-training fails the job provider_error with the provider's reason", async () => {
    const ft2 = ft(2);
    await ft2.setFaults({ failAt: "Training" });
    const client = t.client();
    try {
      const { jobId } = await client.submit({ task: fineTuningTask(2) });
      const err = await rejection(client.getResult({ jobId, wait: true, timeoutSeconds: 60 }));
      expect(err.code).toBe(Code.FailedPrecondition);
      const job = await client.getJob({ jobId });
      expect(job).toMatchObject({ state: JobState.FAILED, taskType: TaskType.FINE_TUNING, stage: "Failed" });
      expect(job.error?.reason).toBe(FailureReason.PROVIDER_ERROR);
      expect(job.error?.message).toMatch(
        /failed at provider 0x[0-9a-fA-F]{40}: training failed: training container exited with code 1/,
      );
    } finally {
      await ft2.setFaults({});
    }
  });
});
