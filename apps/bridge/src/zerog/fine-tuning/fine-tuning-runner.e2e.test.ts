import { createHash } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { create } from "@bufbuild/protobuf";
import {
  ComputeTaskSchema,
  FailureReason,
  TaskType,
  VerificationMethod,
  ZeroGError,
} from "@chaoschain/zerog-core";
import { createJsonRpcProvider, type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { fineTuningSettlementDigest, verifyProof } from "@chaoschain/zerog-verifier";
import {
  Contract,
  getBytes,
  hexlify,
  keccak256,
  parseEther,
  recoverAddress,
  SigningKey,
  toQuantity,
  Wallet,
} from "ethers";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectGarbage } from "../../../test/garbage.js";
import { BackendError } from "../../backend.js";
import { PromiseCache } from "../promise-cache.js";
import { fetchAttestation, type ProviderAttestation } from "../provider-http.js";
import { TxQueue } from "../tx-queue.js";
import { defaultDatasetPolicy } from "./dataset-source.js";
import { FineTuningServing } from "./fine-tuning-contract.js";
import {
  defaultFineTuningOptions,
  type FineTuningCheckpoint,
  type FineTuningOptions,
  type FineTuningRunContext,
  FineTuningRunner,
  type FineTuningRunnerDeps,
} from "./fine-tuning-runner.js";
import type { JobProgress } from "./task-progress.js";

const DATASET = '{"instruction":"Say hi","output":"hi"}\n{"instruction":"Count to 3","output":"1 2 3"}\n';

/** A dataset the devnet's first provider reads by root hash (its stand-in for 0G Storage). */
const STORED_ROOT = `0x${"5e".repeat(32)}`;
/** A base model only the second, very expensive provider offers. */
const PRICEY = { name: "pricey-model", hash: `0x${"9a".repeat(32)}`, dataType: "text" as const };

let devnet: Devnet;
let root: string;
beforeAll(async () => {
  devnet = await startDevnet({
    providers: [],
    fineTuningProviders: [
      { localDatasets: { [STORED_ROOT]: Buffer.from(DATASET) } },
      { models: [PRICEY], pricePerToken: parseEther("1") },
    ],
  });
  root = await mkdtemp(join(tmpdir(), "ft-runner-"));
  await writeFile(join(root, "dataset.jsonl"), DATASET);
});
afterAll(async () => {
  await devnet?.close();
});
const ft = () => devnet.fineTuningProviders[0]!;

/** A runner for a fresh funded wallet (100 0G, no ledger yet): tests share no accounts or tasks. */
async function newRunner(
  overrides: Partial<FineTuningRunnerDeps> = {},
  options: Partial<FineTuningOptions> = {},
  providerUrl?: (url: string) => string,
) {
  const chain = createJsonRpcProvider(devnet.rpcUrl, devnet.chainId);
  const wallet = new Wallet(Wallet.createRandom().privateKey, chain);
  await chain.send("evm_setAccountBalance", [wallet.address, toQuantity(parseEther("100"))]);
  return build(wallet, chain, overrides, options, providerUrl);
}

/** Another runner for the same wallet (a restarted bridge). */
async function newRunnerFor(wallet: Wallet, options: Partial<FineTuningOptions> = {}) {
  const chain = createJsonRpcProvider(devnet.rpcUrl, devnet.chainId);
  return (await build(new Wallet(wallet.privateKey, chain), chain, {}, options)).runner;
}

async function build(
  wallet: Wallet,
  chain: ReturnType<typeof createJsonRpcProvider>,
  overrides: Partial<FineTuningRunnerDeps> = {},
  options: Partial<FineTuningOptions> = {},
  providerUrl: (url: string) => string = (url) => url,
) {
  /** The chain's services, reached at `providerUrl(url)` (a proxy in front of the provider). */
  class Serving extends FineTuningServing {
    override async services() {
      return (await super.services()).map((s) => ({ ...s, url: providerUrl(s.url) }));
    }
  }
  const serving = new Serving({
    fineTuning: devnet.contracts.fineTuning,
    ledger: devnet.contracts.ledger,
    chain,
    signer: wallet,
    gasPrice: 1_000_000_000,
  });
  const txs = new TxQueue();
  const ledger = new Contract(
    devnet.contracts.ledger,
    ["function addLedger(string additionalInfo) payable"],
    wallet,
  );
  let ledgerTxs = 0;
  const attestations = new PromiseCache<string, ProviderAttestation>(60_000);
  const runner = new FineTuningRunner({
    serving,
    wallet,
    chainId: BigInt(devnet.chainId),
    txs,
    ensureLedger: async () => {
      if ((await serving.ledgerAvailable()) !== undefined) return;
      ledgerTxs++;
      await txs.run(async () =>
        (await ledger.getFunction("addLedger")("", { value: parseEther("10") })).wait(),
      );
    },
    attestation: (url, signal) =>
      attestations.get(url, () => fetchAttestation(url, { signal, timeoutMs: 10_000 })),
    logger: pino({ level: "silent" }),
    options: {
      ...defaultFineTuningOptions,
      pollIntervalMs: 25,
      artifactsDir: join(root, `artifacts-${wallet.address}`),
      dataset: { ...defaultDatasetPolicy, datasetDir: root },
      ...options,
    },
    ...overrides,
  });
  return { runner, wallet, serving, chain, ledgerTxs: () => ledgerTxs };
}

function task(overrides: Record<string, unknown> = {}, inputs: Record<string, unknown> = {}) {
  return create(ComputeTaskSchema, {
    taskType: TaskType.FINE_TUNING,
    model: "Qwen2.5-0.5B-Instruct",
    verification: VerificationMethod.TEE_ML,
    inputs: { dataset: DATASET, ...inputs },
    ...overrides,
  });
}

/** A run context recording progress and checkpoints; `abortOn` aborts with a reason at a condition. */
function context(resumeFrom?: FineTuningCheckpoint) {
  const controller = new AbortController();
  const progress: (JobProgress & { provider?: string })[] = [];
  const checkpoints: FineTuningCheckpoint[] = [];
  const ctx: FineTuningRunContext = {
    jobId: `job_${Math.random().toString(36).slice(2)}`,
    signal: controller.signal,
    progress: (p) => progress.push(p),
    checkpoint: (s) => {
      checkpoints.push(structuredClone(s));
    },
    resumeFrom,
  };
  return { ctx, controller, progress, checkpoints };
}

describe("fine-tuning on the devnet through the real protocol", () => {
  it("dataset in, encrypted model out: verified, acknowledged, settled, decrypted, hash-checked, with a proof", async () => {
    const { runner, wallet, chain } = await newRunner();
    const { ctx, progress, checkpoints } = context();
    const result = await runner.run(task({}, { extras: { num_train_epochs: 2, lora_r: 4 } }), ctx);

    const output = JSON.parse(result.output) as { path: string; sha256: string; size: number };
    const bytes = await readFile(output.path);
    expect(output.sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(output.size).toBe(bytes.length);
    expect((await stat(output.path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(output.path, ".."))).mode & 0o777).toBe(0o700);
    expect(output.path).toMatch(/fine-tuned-[0-9a-f-]{36}\.zip$/);

    const taskId = checkpoints.at(-1)!.taskId!;
    const providerTask = ft().task(taskId)!;
    // Byte for byte what the provider's TEE trained, and nothing is left encrypted on disk.
    expect(Buffer.compare(bytes, Buffer.from(providerTask.delivery!.plaintext))).toBe(0);
    expect(providerTask.progress).toBe("Finished");
    expect(JSON.parse(providerTask.trainingParams)).toEqual({ num_train_epochs: 2, lora_r: 4 });

    const proof = result.proof;
    const d = proof.fineTuning!;
    expect(d.taskId).toBe(taskId);
    expect(proof.chatId).toBe(taskId);
    expect(proof.enclaveAddress).toBe(ft().teeAddress);
    expect(proof.executionHash).toBe(output.sha256);
    expect(d.artifactSha256).toBe(output.sha256);
    expect(Number(d.artifactSize)).toBe(output.size);
    expect(d.modelRootHash).toEqual(getBytes(providerTask.delivery!.modelRootHash));
    expect(Number(d.encryptedSize)).toBe(providerTask.delivery!.encrypted.length);
    expect(d.tagSignature).toEqual(providerTask.delivery!.encrypted.subarray(0, 65));
    expect(d.tags.length).toBe(16);
    const sig = {
      r: hexlify(d.tagSignature.slice(0, 32)),
      s: hexlify(d.tagSignature.slice(32, 64)),
      v: d.tagSignature[64]! + 27,
    };
    expect(SigningKey.recoverPublicKey(keccak256(d.tags), sig)).toBe(proof.enclavePubkey);
    expect(proof.signature).toBe(hexlify(d.tagSignature));
    expect(Buffer.from(d.encryptedSecret).toString("hex")).toBe(
      providerTask.delivery!.encryptedSecret.slice(2),
    );
    expect(d.datasetSha256).toBe(createHash("sha256").update(DATASET).digest("hex"));
    expect(d.datasetHash).toBe(keccak256(Buffer.from(DATASET)));
    expect(d.userAddress).toBe(wallet.address);
    expect(d.taskFeeNeuron).toBe(providerTask.fee);
    expect(result.usage.feeNeuron).toBe(providerTask.fee);
    // The TEE's EIP-712 settlement signature, from the provider's settleFees transaction.
    const digest = fineTuningSettlementDigest({
      chainId: BigInt(devnet.chainId),
      fineTuningContract: devnet.contracts.fineTuning,
      id: taskId,
      encryptedSecret: d.encryptedSecret,
      modelRootHash: d.modelRootHash,
      nonce: BigInt(d.settlementNonce),
      taskFee: BigInt(d.taskFeeNeuron),
      user: d.userAddress,
    });
    expect(recoverAddress(digest, `0x${Buffer.from(d.settlementSignature).toString("hex")}`)).toBe(
      ft().teeAddress,
    );
    expect((await chain.getTransaction(d.settlementTxHash))?.from).toBe(ft().address);
    expect(proof.tee?.teeType).toBe("tdx");
    expect(proof.attestation.length).toBeGreaterThan(0);

    // Progress went forward through the provider's states, training step by step.
    const stages = progress.map((p) => p.stage).filter((s, i, a) => s && s !== a[i - 1]);
    expect(stages).toEqual(expect.arrayContaining(["Training", "Delivered", "UserAcknowledged", "Finished"]));
    expect(progress.some((p) => /training, step \d of 4/.test(p.message))).toBe(true);
    const fractions = progress.map((p) => p.progress);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);
    expect(checkpoints.at(-1)).toMatchObject({ taskId, acknowledged: true, provider: ft().address });

    // The offline verifier accepts it: the enclave signed the tags and the settlement, the quote binds it.
    const report = await verifyProof(
      { output: result.output, proof: result.proof },
      { now: Math.floor(Date.now() / 1000), policy: devnet.policy!, collateral: devnet.trust!.collateral },
    );
    const status = Object.fromEntries(report.checks.map((c) => [c.name, c.status]));
    expect(status).toMatchObject({
      "fine_tuning.delivery": "pass",
      "fine_tuning.tag_signature": "pass",
      "fine_tuning.settlement_signature": "pass",
      "fine_tuning.artifact": "skipped",
      "result.output": "pass",
      "tee.report_data": "pass",
      "tee.workload": "pass",
    });
    expect(report.ok).toBe(true);
  });

  it("check() refuses training, unknown base models and bad fields at submit", async () => {
    const { runner } = await newRunner();
    expect(await runner.check(task({ taskType: TaskType.TRAINING, model: "my-llm" }))).toMatch(
      /^training from scratch is not offered by any 0G provider: 0G offers fine-tuning .*: Qwen2.5-0.5B-Instruct, devnet-mini-lm, pricey-model$/,
    );
    expect(await runner.check(task({ model: "llama-3-8b" }))).toMatch(
      /no fine-tuning provider offers base model "llama-3-8b"/,
    );
    const violations = async (t: ReturnType<typeof task>) => {
      const err = await runner.check(t).catch((e: unknown) => e);
      return err instanceof ZeroGError ? err.violations.map((v) => `${v.field}: ${v.description}`) : err;
    };
    expect(await violations(task({}, { dataset: '{"text":"a"}\n{"oops"' }))).toEqual([
      "task.inputs.dataset: line 2 is not JSON",
    ]);
    expect(await violations(task({}, { dataset: "file:///etc/passwd" }))).toEqual([
      expect.stringMatching(/^task.inputs.dataset: \/etc\/passwd is outside the bridge's dataset directory/),
    ]);
    expect(await violations(task({}, { extras: { epochs: 3 } }))).toEqual([
      expect.stringMatching(/^task.inputs.extras.epochs: not a training parameter/),
    ]);
    expect(
      await runner.check(task({}, { dataset: pathToFileURL(join(root, "dataset.jsonl")).href })),
    ).toBeUndefined();
  });

  it("an invalid dataset fails the job before anything is paid: no transaction, balances unchanged", async () => {
    const { runner, wallet, serving, chain, ledgerTxs } = await newRunner();
    const path = join(root, "changes.jsonl");
    await writeFile(path, DATASET);
    const t = task({}, { dataset: pathToFileURL(path).href });
    expect(await runner.check(t)).toBeUndefined();
    // Accepted at submit, then broken before the job runs.
    await writeFile(path, '{"text":"a"}\nnot json\n');
    const before = {
      balance: await chain.getBalance(wallet.address),
      nonce: await chain.getTransactionCount(wallet.address),
    };
    const created = ft().stats.tasksCreated;
    const err = await runner.run(t, context().ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).reason).toBe(FailureReason.INVALID_INPUT);
    expect((err as BackendError).message).toBe(
      "the dataset was refused before anything was paid: line 2 is not JSON",
    );
    expect(await chain.getBalance(wallet.address)).toBe(before.balance);
    expect(await chain.getTransactionCount(wallet.address)).toBe(before.nonce);
    expect(ledgerTxs()).toBe(0);
    expect(await serving.account(ft().address)).toBeUndefined();
    expect(ft().stats.tasksCreated).toBe(created);
  });

  it("a 0G Storage root hash dataset is trained without an upload; a customized base model resolves through /v1/model", async () => {
    const { runner } = await newRunner();
    const uploads = ft().stats.datasetsUploaded;
    const { ctx, checkpoints } = context();
    const result = await runner.run(task({ model: "devnet-mini-lm" }, { dataset: STORED_ROOT }), ctx);
    expect(ft().stats.datasetsUploaded).toBe(uploads);
    const d = result.proof.fineTuning!;
    expect(d.datasetHash).toBe(STORED_ROOT);
    expect(d.datasetSha256).toBe("");
    expect(d.baseModelHash).toBe(ft().models.find((m) => m.name === "devnet-mini-lm")!.hash);
    expect(ft().task(checkpoints.at(-1)!.taskId!)!.preTrainedModelHash).toBe(d.baseModelHash);
  });

  it("the provider fails mid-training: the job fails provider_error with its reason, and nothing is paid", async () => {
    const { runner } = await newRunner();
    const settled = ft().stats.settledFee;
    await ft().setFaults({ failAt: "Training" });
    try {
      const err = await runner.run(task(), context().ctx).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendError);
      expect((err as BackendError).reason).toBe(FailureReason.PROVIDER_ERROR);
      expect((err as BackendError).message).toMatch(
        /^fine-tuning task [0-9a-f-]{36} failed at provider 0x[0-9a-fA-F]{40}: training failed: training container exited with code 1/,
      );
      expect(ft().stats.settledFee).toBe(settled);
    } finally {
      await ft().setFaults({});
    }
  });

  it("a cancellation while the provider can still cancel (SetUp) cancels the task there", async () => {
    const { runner } = await newRunner();
    await ft().setFaults({ holdAt: "SetUp" });
    try {
      const { ctx, controller, checkpoints } = context();
      const running = runner.run(task(), ctx);
      const taskId = await until(() => checkpoints.at(-1)?.taskId);
      await ft().waitForStatus(taskId, "SetUp");
      controller.abort("cancelled");
      await expect(running).rejects.toBe("cancelled");
      expect(ft().task(taskId)!.progress).toBe("Failed");
      expect(ft().task(taskId)!.log.at(-1)).toMatch(/cancelled by the user/);
    } finally {
      await ft().setFaults({});
    }
  });

  it("a cancellation past SetUp stops the job; 0G cannot cancel there, so the delivery is left unacknowledged", async () => {
    const { runner, serving } = await newRunner();
    await ft().setFaults({ holdAt: "Trained" });
    let taskId = "";
    try {
      const { ctx, controller, checkpoints } = context();
      const running = runner.run(task(), ctx);
      taskId = await until(() => checkpoints.at(-1)?.taskId);
      await ft().waitForStatus(taskId, "Trained");
      controller.abort("cancelled");
      await expect(running).rejects.toBe("cancelled");
      expect(ft().task(taskId)!.progress).toBe("Trained");
    } finally {
      await ft().setFaults({});
    }
    await ft().waitForStatus(taskId, "Delivered");
    expect((await serving.deliverable(ft().address, taskId))?.acknowledged).toBe(false);
  });

  it("a restart mid-training resumes from the checkpoint: no second task, upload or payment", async () => {
    const { runner, wallet, serving } = await newRunner();
    const created = ft().stats.tasksCreated;
    const uploads = ft().stats.datasetsUploaded;
    ft().setTiming({ trainingMs: 1500 });
    let checkpoint: FineTuningCheckpoint;
    try {
      const first = context();
      const running = runner.run(task(), first.ctx);
      checkpoint = await until(() => first.checkpoints.findLast((c) => c.status === "Training"));
      first.controller.abort("shutdown");
      await expect(running).rejects.toBe("shutdown");
    } finally {
      ft().setTiming({ trainingMs: 100 });
    }
    // A new runner (a restarted bridge) for the same wallet, given the last checkpoint.
    const restarted = await newRunnerFor(wallet);
    const second = context(checkpoint);
    const result = await restarted.run(task(), second.ctx);
    expect(result.proof.fineTuning!.taskId).toBe(checkpoint.taskId);
    expect(ft().stats.tasksCreated).toBe(created + 1);
    expect(ft().stats.datasetsUploaded).toBe(uploads + 1);
    expect(second.checkpoints.every((c) => c.funded === checkpoint.funded)).toBe(true);
    // One transfer in, one fee out: the sub-account holds exactly the funding minus the fee.
    const account = await serving.account(ft().address);
    expect(account!.balance).toBe(BigInt(checkpoint.funded) - BigInt(result.usage.feeNeuron));
  });

  it("a task the provider never delivers (held in SetUp): at the run's deadline it is cancelled there, the job fails provider_unavailable, nothing more is paid, and the wallet's next job gets the provider", async () => {
    const { runner, wallet, chain } = await newRunner({}, { maxRunMs: 3000 });
    await ft().setFaults({ holdAt: "SetUp" });
    let next: ReturnType<FineTuningRunner["run"]> | undefined;
    let nextTask = "";
    try {
      const first = context();
      const second = context();
      const failed = runner.run(task(), first.ctx).catch((e: unknown) => e);
      const taskId = await until(() => first.checkpoints.at(-1)?.taskId);
      // The wallet's next job on this provider waits for the first (0G runs one task per user).
      next = runner.run(task(), second.ctx);
      await ft().waitForStatus(taskId, "SetUp");
      const txs = await chain.getTransactionCount(wallet.address);
      const settled = ft().stats.settledFee;

      const err = (await failed) as BackendError;
      expect(err).toBeInstanceOf(BackendError);
      expect(err.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
      expect(err.message).toBe(
        `fine-tuning task ${taskId} was not delivered by provider ${ft().address} within 3 s of its start ` +
          "(the bridge's --fine-tuning-max-run; last state SetUp); it was cancelled at the provider; nothing more is paid",
      );
      expect(ft().task(taskId)!.progress).toBe("Failed");
      expect(ft().task(taskId)!.log.at(-1)).toMatch(/cancelled by the user/);
      expect(first.checkpoints.at(-1)).toMatchObject({ taskId, status: "Failed" });
      expect(await chain.getTransactionCount(wallet.address)).toBe(txs);
      expect(ft().stats.settledFee).toBe(settled);
      // The lock is released: the next job creates its task.
      nextTask = await until(() => second.checkpoints.at(-1)?.taskId);
      expect(nextTask).not.toBe(taskId);
    } finally {
      await ft().setFaults({});
    }
    expect((await next)?.proof.fineTuning?.taskId).toBe(nextTask);
  });

  it("a task that trains for ever fails at the run's deadline; 0G cannot cancel it past SetUp, so its delivery is left unacknowledged", async () => {
    const { runner, serving } = await newRunner({}, { maxRunMs: 2000 });
    ft().setTiming({ trainingMs: 600_000, trainingSteps: 600 });
    let taskId = "";
    try {
      const { ctx, checkpoints } = context();
      const err = (await runner.run(task(), ctx).catch((e: unknown) => e)) as BackendError;
      taskId = checkpoints.at(-1)!.taskId!;
      expect(err.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
      expect(err.message).toMatch(
        /was not delivered by provider 0x[0-9a-fA-F]{40} within 2 s of its start \(the bridge's --fine-tuning-max-run; last state Training\); 0G no longer lets it be cancelled \(past SetUp\): the bridge will not acknowledge its delivery/,
      );
      expect(ft().task(taskId)!.progress).toBe("Training");
    } finally {
      ft().setTiming({ trainingMs: 100, trainingSteps: 4 });
    }
    await ft().waitForStatus(taskId, "Delivered");
    expect((await serving.deliverable(ft().address, taskId))?.acknowledged).toBe(false);
  });

  it("a resumed job keeps counting its run from the task's start: a bridge down longer than the limit fails the job at once", async () => {
    const { runner, wallet } = await newRunner();
    await ft().setFaults({ holdAt: "SetUp" });
    try {
      const first = context();
      const before = Date.now();
      const running = runner.run(task(), first.ctx);
      const checkpoint = await until(() => first.checkpoints.findLast((c) => c.taskId !== undefined));
      expect(checkpoint.startedAt).toBeGreaterThanOrEqual(before);
      expect(checkpoint.startedAt).toBeLessThanOrEqual(Date.now());
      first.controller.abort("shutdown");
      await expect(running).rejects.toBe("shutdown");

      // Restarted an hour later with a one-hour limit: the task has had its hour (a new clock would give it another).
      const restarted = await newRunnerFor(wallet, { maxRunMs: 3_600_000 });
      const second = context({ ...checkpoint, startedAt: checkpoint.startedAt! - 3_600_000 });
      const err = (await restarted.run(task(), second.ctx).catch((e: unknown) => e)) as BackendError;
      expect(err.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
      expect(err.message).toMatch(
        /^fine-tuning task [0-9a-f-]{36} was not delivered by .* within 3600 s of its start .*; it was cancelled at the provider/,
      );
      expect(ft().task(checkpoint.taskId!)!.progress).toBe("Failed");
      expect(second.checkpoints.every((c) => c.startedAt === checkpoint.startedAt! - 3_600_000)).toBe(true);
    } finally {
      await ft().setFaults({});
    }
  });

  it("a provider that drips its model (a byte every 50 ms, well within the per-read timeout) fails the job at the download deadline; the partial file is deleted, nothing acknowledged", async () => {
    const proxy = await startDripProxy(ft().url);
    try {
      const { runner, serving, wallet } = await newRunner(
        {},
        { downloadTimeoutMs: 2000, requestTimeoutMs: 10_000 },
        (url) => (url === ft().url ? proxy.url : url),
      );
      const { ctx, checkpoints } = context();
      const err = (await runner.run(task(), ctx).catch((e: unknown) => e)) as BackendError;
      expect(err).toBeInstanceOf(BackendError);
      expect(err.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
      const taskId = checkpoints.at(-1)!.taskId!;
      expect(err.message).toMatch(
        new RegExp(
          `^provider ${ft().address} did not finish serving the model of task ${taskId} within 2 s \\(the bridge's ` +
            "--fine-tuning-download-timeout; \\d+ bytes received\\): the partial download is deleted and the delivery is not acknowledged$",
        ),
      );
      expect(proxy.dripped()).toBeGreaterThan(0);
      await expect(stat(join(root, `artifacts-${wallet.address}`, ctx.jobId))).rejects.toThrow(/ENOENT/);
      expect((await serving.deliverable(ft().address, taskId))?.acknowledged).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it("a delivery not tag-signed by the provider's TEE fails proof_invalid and is not acknowledged", async () => {
    const { runner, serving } = await newRunner();
    await ft().setFaults({ wrongTagSigner: true });
    try {
      const { ctx, checkpoints } = context();
      const err = (await runner.run(task(), ctx).catch((e: unknown) => e)) as BackendError;
      expect(err.reason).toBe(FailureReason.PROOF_INVALID);
      expect(err.message).toMatch(/is not signed by the provider's TEE signer .* \(tag signature by 0x/);
      const taskId = checkpoints.at(-1)!.taskId!;
      expect((await serving.deliverable(ft().address, taskId))?.acknowledged).toBe(false);
    } finally {
      await ft().setFaults({});
    }
  });

  it("a served model that differs from the on-chain modelRootHash fails proof_invalid (the SDK only warns) and is deleted", async () => {
    const { runner, serving, wallet } = await newRunner();
    await ft().setFaults({ corruptDelivery: true });
    try {
      const { ctx, checkpoints } = context();
      const err = (await runner.run(task(), ctx).catch((e: unknown) => e)) as BackendError;
      expect(err.reason).toBe(FailureReason.PROOF_INVALID);
      expect(err.message).toMatch(/is not the one it recorded on chain \(modelRootHash 0x/);
      expect((await serving.deliverable(ft().address, checkpoints.at(-1)!.taskId!))?.acknowledged).toBe(
        false,
      );
      // The refused download (up to maxModelBytes) is not left on disk job after job.
      await expect(stat(join(root, `artifacts-${wallet.address}`, ctx.jobId))).rejects.toThrow(/ENOENT/);
    } finally {
      await ft().setFaults({});
    }
  });

  it("a task the ledger cannot pay for fails insufficient_balance before any transfer", async () => {
    const { runner, serving, ledgerTxs } = await newRunner();
    const err = (await runner
      .run(task({ model: PRICEY.name }), context().ctx)
      .catch((e: unknown) => e)) as BackendError;
    expect(err.reason).toBe(FailureReason.INSUFFICIENT_BALANCE);
    expect(err.message).toMatch(
      /may cost up to \d+\.?\d* 0G; .* deposit at least [\d.]+ 0G into the ledger$/,
    );
    expect(ledgerTxs()).toBe(1);
    expect(await serving.account(devnet.fineTuningProviders[1]!.address)).toBeUndefined();
  });

  it("two jobs of one wallet on one provider take turns (0G runs one task per user)", async () => {
    const { runner } = await newRunner();
    const a = context();
    const b = context();
    const results = await Promise.all([runner.run(task(), a.ctx), runner.run(task(), b.ctx)]);
    expect(new Set(results.map((r) => r.proof.fineTuning!.taskId)).size).toBe(2);
    expect(
      b.progress.some((p) => /waiting for this wallet's previous fine-tuning task/.test(p.message)),
    ).toBe(true);
  });
  it("a provider whose attestation the operator's policy refuses gets nothing: no funding, no upload", async () => {
    const { runner, serving } = await newRunner({
      checkAttestation: async () => ({ ok: false, reason: "quote.tcb_status: OutOfDate" }),
    });
    const uploads = ft().stats.datasetsUploaded;
    const err = (await runner.run(task(), context().ctx).catch((e: unknown) => e)) as BackendError;
    expect(err.reason).toBe(FailureReason.PROOF_INVALID);
    expect(err.message).toMatch(
      /has an attestation that verifies \(nothing was paid\): 0x[0-9a-fA-F]{40}: quote.tcb_status: OutOfDate/,
    );
    expect(await serving.account(ft().address)).toBeUndefined();
    expect(ft().stats.datasetsUploaded).toBe(uploads);
  });

  it("a finished proof the operator's policy refuses fails proof_invalid and the model is withheld", async () => {
    const seen: string[] = [];
    const { runner, wallet } = await newRunner({
      checkProof: async (proof) => {
        seen.push(proof.fineTuning!.artifactSha256);
        return { ok: false, reason: "tee.workload: docker_digest_not_allowed" };
      },
    });
    const { ctx } = context();
    const err = (await runner.run(task(), ctx).catch((e: unknown) => e)) as BackendError;
    expect(err.reason).toBe(FailureReason.PROOF_INVALID);
    expect(err.message).toMatch(
      /does not verify \(tee.workload: docker_digest_not_allowed\); the model is withheld$/,
    );
    expect(seen).toHaveLength(1);
    await expect(stat(join(root, `artifacts-${wallet.address}`, ctx.jobId))).rejects.toThrow(/ENOENT/);
  });
});

async function until<T>(probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a provider: passes every call through, except that it serves
 * the model download (`…/lora`) one byte every 50 ms, collecting garbage after the fifth.
 */
async function startDripProxy(target: string) {
  let dripped = 0;
  const server = createServer(async (req, res) => {
    const body: Buffer[] = [];
    for await (const chunk of req) body.push(chunk as Buffer);
    const upstream = await fetch(`${target}${req.url}`, {
      method: req.method ?? "GET",
      headers: { "content-type": req.headers["content-type"] ?? "application/octet-stream" },
      ...(body.length > 0 ? { body: Buffer.concat(body) } : {}),
    });
    const bytes = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, {
      "content-type": upstream.headers.get("content-type") ?? "application/octet-stream",
      "content-length": bytes.length,
    });
    if (!req.url?.endsWith("/lora") || upstream.status !== 200) return void res.end(bytes);
    for (const byte of bytes) {
      if (res.destroyed) return;
      res.write(Buffer.of(byte));
      dripped++;
      // A collection mid-download, as under load: it used to cut the deadline off from the download.
      if (dripped === 5) await collectGarbage();
      await new Promise((r) => setTimeout(r, 50));
    }
    res.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    dripped: () => dripped,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
