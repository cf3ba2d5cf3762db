import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Contract, keccak256, parseEther } from "ethers";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { newSdkUser } from "../test/sdk-user.js";
import { DEVNET_MINI_LM, QWEN_2_5_0_5B_INSTRUCT } from "./fine-tuning-models.js";
import { FINE_TUNING_STATUSES } from "./fine-tuning-task.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";
import { DEVNET_GAS_PRICE } from "./start-chain.js";
import { type Devnet, startDevnet } from "./start-devnet.js";
import type { FineTuningProviderSimulatorHandle } from "./start-fine-tuning-provider-simulator.js";
import { trainLoraAdapter } from "./train-lora-adapter.js";

const DATASET = [
  { instruction: "Translate to French", input: "Hello world", output: "Bonjour le monde" },
  { instruction: "Translate to French", input: "Good morning", output: "Bonjour" },
  { messages: [{ role: "user", content: "ignored: the first line decides the format" }] },
]
  .map((o) => JSON.stringify(o))
  .join("\n");
const PARAMS = JSON.stringify({ num_train_epochs: 2, lora_r: 4, lora_alpha: 8, learning_rate: 0.0002 });
const ORDER: readonly string[] = FINE_TUNING_STATUSES;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let devnet: Devnet;
let ft: FineTuningProviderSimulatorHandle;
let dir: string;

function fineTuningServing() {
  return new Contract(
    devnet.contracts.fineTuning,
    loadZeroGArtifacts().fineTuning.abi,
    devnet.chain.provider,
  );
}

beforeAll(async () => {
  vi.useRealTimers();
  dir = await mkdtemp(join(tmpdir(), "zerog-ft-"));
  await writeFile(join(dir, "dataset.jsonl"), DATASET);
  await writeFile(join(dir, "params.json"), PARAMS);
  devnet = await startDevnet({ providers: [{ model: "llama-3-8b" }] });
  [ft] = devnet.fineTuningProviders as [FineTuningProviderSimulatorHandle];
});

afterAll(async () => {
  await devnet?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the real SDK drives a fine-tuning job on the devnet", () => {
  test("listService → fund → upload → createTask → getTask → acknowledgeModel(tee) → decryptModel", async () => {
    const { wallet, broker } = await newSdkUser(devnet);
    const ftBroker = broker.fineTuning!;

    const services = await ftBroker.listService();
    const svc = services.find((s) => s.provider === ft.address)!;
    expect({
      url: svc.url,
      gpuType: svc.quota.gpuType,
      gpuCount: svc.quota.gpuCount,
      models: [...svc.models],
      occupied: svc.occupied,
      teeSignerAddress: svc.teeSignerAddress,
      teeSignerAcknowledged: svc.teeSignerAcknowledged,
    }).toEqual({
      url: ft.url,
      gpuType: "H200",
      gpuCount: 1n,
      models: ["Qwen2.5-0.5B-Instruct", "devnet-mini-lm"],
      occupied: false,
      teeSignerAddress: ft.teeAddress,
      teeSignerAcknowledged: true,
    });

    // SDK pitfall: acknowledgeProviderSigner with no sub-account calls transferFund(…, 0n), which throws.
    await broker.ledger.transferFund(ft.address, "fine-tuning", parseEther("2"), DEVNET_GAS_PRICE);
    await ftBroker.acknowledgeProviderSigner(ft.address, DEVNET_GAS_PRICE);

    const upload = await ftBroker.uploadDatasetToTEE(ft.address, join(dir, "dataset.jsonl"));
    expect(upload).toEqual({
      datasetHash: keccak256(Buffer.from(DATASET)),
      message: "Dataset uploaded successfully",
    });

    expect(await (await fetch(`${ft.url}/v1/task/pending`)).text()).toBe("0"); // so createTask never prompts
    const taskId = await ftBroker.createTask(
      ft.address,
      "Qwen2.5-0.5B-Instruct",
      upload.datasetHash,
      join(dir, "params.json"),
      DEVNET_GAS_PRICE,
    );
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);

    // Poll the way a client does: the SDK's getTask until the model is delivered.
    const seen: string[] = [];
    const deadline = Date.now() + 30_000;
    let task = await ftBroker.getTask(ft.address, taskId);
    while (task.progress !== "Delivered" && task.progress !== "Failed" && Date.now() < deadline) {
      if (seen.at(-1) !== task.progress) seen.push(task.progress ?? "");
      task = await ftBroker.getTask(ft.address, taskId);
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((p, i) => i === 0 || ORDER.indexOf(p) > ORDER.indexOf(seen[i - 1] ?? ""))).toBe(true);
    expect(task).toMatchObject({
      id: taskId,
      userAddress: wallet.address,
      preTrainedModelHash: QWEN_2_5_0_5B_INSTRUCT.hash,
      datasetHash: upload.datasetHash,
      trainingParams: PARAMS,
      progress: "Delivered",
    });
    const expected = trainLoraAdapter({
      dataset: Buffer.from(DATASET),
      trainingParams: PARAMS,
      baseModel: { name: QWEN_2_5_0_5B_INSTRUCT.name, hash: QWEN_2_5_0_5B_INSTRUCT.hash },
    });
    expect(task.fee).toBe((BigInt(expected.dataset.tokens) * ft.pricePerToken * 2n).toString());
    expect(ft.task(taskId)?.history).toEqual([
      "Init",
      "SettingUp",
      "SetUp",
      "Training",
      "Trained",
      "Delivering",
      "Delivered",
    ]);
    expect(await ftBroker.getLog(ft.address, taskId)).toContain("step 4/4 loss=");
    expect((await ftBroker.listTask(ft.address)).map((t) => t.id)).toEqual([taskId]);

    const serving = fineTuningServing();
    const before = await serving.getFunction("getDeliverable")(wallet.address, ft.address, taskId);
    expect(before.acknowledged).toBe(false);
    expect(before.encryptedSecret).toBe("0x");

    const out = join(dir, `out-${taskId}`);
    await mkdir(out);
    await ftBroker.acknowledgeModel(ft.address, taskId, out, {
      downloadMethod: "tee",
      gasPrice: DEVNET_GAS_PRICE,
    });
    const encrypted = await readFile(join(out, `lora_model_${taskId}.zip`));
    // What the SDK compares (and only warns about): keccak256 of the downloaded file vs modelRootHash.
    expect(keccak256(encrypted)).toBe(before.modelRootHash);

    // The key is published on chain by the provider's settlement, after the acknowledgement.
    await ft.waitForStatus(taskId, ["Finished", "Failed"]);
    expect(ft.task(taskId)?.progress).toBe("Finished");
    const after = await serving.getFunction("getDeliverable")(wallet.address, ft.address, taskId);
    expect({ acknowledged: after.acknowledged, settled: after.settled }).toEqual({
      acknowledged: true,
      settled: true,
    });
    expect(after.encryptedSecret.length).toBeGreaterThan(2 + 2 * 97);

    const decrypted = join(out, "lora_decrypted.zip");
    await ftBroker.decryptModel(ft.address, taskId, join(out, `lora_model_${taskId}.zip`), decrypted);
    const model = await readFile(decrypted);
    expect(sha256(model)).toBe(sha256(expected.zip));
    expect(model.equals(expected.zip)).toBe(true);

    const account = await serving.getFunction("getAccount")(wallet.address, ft.address);
    expect(account.balance).toBe(parseEther("2") - BigInt(task.fee));
    expect(account.nonce).toBe(BigInt(task.nonce));
    expect(ft.stats.settledFee).toBeGreaterThanOrEqual(BigInt(task.fee));
    expect(ft.stats.occupancyTxs).toBe(2); // occupied during training, released after
    expect((await ftBroker.listService()).find((s) => s.provider === ft.address)?.occupied).toBe(false);
  });

  test("a customized model is resolved through GET /v1/model/<name>", async () => {
    const { broker } = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const ftBroker = broker.fineTuning!;
    const { datasetHash } = await ftBroker.uploadDatasetToTEE(ft.address, join(dir, "dataset.jsonl"));
    const taskId = await ftBroker.createTask(
      ft.address,
      "devnet-mini-lm",
      datasetHash,
      join(dir, "params.json"),
    );
    const task = await ft.waitForStatus(taskId, ["Delivered", "Failed"]);
    expect(task).toMatchObject({
      progress: "Delivered",
      preTrainedModelHash: DEVNET_MINI_LM.hash,
      modelType: 1,
    });
    await ftBroker.acknowledgeDeliverable(ft.address, taskId, DEVNET_GAS_PRICE);
    await ft.waitForStatus(taskId, ["Finished", "Failed"]);
  });

  test("SDK pitfall: acknowledgeProviderSigner without a sub-account throws (it transfers 0)", async () => {
    const { broker } = await newSdkUser(devnet);
    await expect(
      broker.fineTuning!.acknowledgeProviderSigner(ft.address, DEVNET_GAS_PRICE),
    ).rejects.toThrow();
    await broker.ledger.transferFund(ft.address, "fine-tuning", parseEther("1"), DEVNET_GAS_PRICE);
    await broker.fineTuning!.acknowledgeProviderSigner(ft.address, DEVNET_GAS_PRICE);
    expect((await broker.fineTuning!.getAccount(ft.address)).acknowledged).toBe(true);
  });
});
