import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Contract, keccak256, parseEther, Wallet } from "ethers";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { newSdkUser, type SdkUser } from "../test/sdk-user.js";
import { DEVNET_MINI_LM, QWEN_2_5_0_5B_INSTRUCT } from "./fine-tuning-models.js";
import {
  cancelTaskDigest,
  createTaskDigest,
  datasetUploadDigest,
  loraDownloadDigest,
  signDigest,
} from "./fine-tuning-signatures.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";
import { DEVNET_GAS_PRICE } from "./start-chain.js";
import { type Devnet, startDevnet } from "./start-devnet.js";
import {
  type FineTuningProviderSimulatorHandle,
  startFineTuningProviderSimulator,
} from "./start-fine-tuning-provider-simulator.js";

const DATASET = Buffer.from(
  '{"instruction":"Say hi","output":"hi"}\n{"instruction":"Count","output":"1 2 3"}\n',
);
const PARAMS = JSON.stringify({ num_train_epochs: 1 });

let devnet: Devnet;
let ft: FineTuningProviderSimulatorHandle;
let dir: string;

const now = () => Math.floor(Date.now() / 1000);
const keyOf = (u: SdkUser) => u.wallet.privateKey;

async function upload(
  u: SdkUser,
  body: Uint8Array,
  o: { key?: string; timestamp?: number; pathUser?: string } = {},
): Promise<Response> {
  const user = o.pathUser ?? u.wallet.address;
  const ts = o.timestamp ?? now();
  const form = new FormData();
  form.append("file", new Blob([body as Uint8Array<ArrayBuffer>]), "dataset.jsonl");
  form.append("signature", signDigest(o.key ?? keyOf(u), datasetUploadDigest(user, ts)));
  form.append("timestamp", String(ts));
  return fetch(`${ft.url}/v1/user/${user}/dataset`, { method: "POST", body: form });
}

async function uploadOk(u: SdkUser, body = DATASET): Promise<string> {
  const res = await upload(u, body);
  expect(res.status).toBe(200);
  return ((await res.json()) as { datasetHash: string }).datasetHash;
}

type TaskBody = Record<string, unknown>;
function taskBody(
  u: SdkUser,
  datasetHash: string,
  o: { key?: string; nonce?: bigint; model?: string } = {},
): TaskBody {
  const nonce = o.nonce ?? BigInt(Date.now()) * 10_000n + 40n;
  return {
    userAddress: u.wallet.address,
    datasetHash,
    trainingParams: PARAMS,
    preTrainedModelHash: o.model ?? QWEN_2_5_0_5B_INSTRUCT.hash,
    fee: "0",
    nonce: nonce.toString(),
    signature: signDigest(o.key ?? keyOf(u), createTaskDigest(u.wallet.address, nonce, datasetHash)),
    wait: false,
  };
}

async function postTask(user: string, body: TaskBody | string): Promise<Response> {
  return fetch(`${ft.url}/v1/user/${user}/task`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

async function createTaskOk(u: SdkUser, datasetHash: string): Promise<string> {
  const res = await postTask(u.wallet.address, taskBody(u, datasetHash));
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

async function errorOf(res: Response): Promise<{ status: number; error: string }> {
  return { status: res.status, error: ((await res.json()) as { error: string }).error };
}

function lora(u: SdkUser, id: string, o: { key?: string; timestamp?: number; pathUser?: string } = {}) {
  const ts = o.timestamp ?? now();
  return fetch(`${ft.url}/v1/user/${o.pathUser ?? u.wallet.address}/task/${id}/lora`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      signature: signDigest(o.key ?? keyOf(u), loraDownloadDigest(id, ts)),
      timestamp: ts,
    }),
  });
}

function serving() {
  return new Contract(
    devnet.contracts.fineTuning,
    loadZeroGArtifacts().fineTuning.abi,
    devnet.chain.provider,
  );
}

async function deliverableOf(user: string, id: string) {
  try {
    return await serving().getFunction("getDeliverable")(user, ft.address, id);
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  vi.useRealTimers();
  dir = await mkdtemp(join(tmpdir(), "zerog-ft-faults-"));
  devnet = await startDevnet({
    providers: [{ model: "llama-3-8b" }],
    fineTuningProviders: [{ timing: { trainingMs: 40 } }],
  });
  [ft] = devnet.fineTuningProviders as [FineTuningProviderSimulatorHandle];
});

afterEach(async () => {
  await ft.setFaults({});
  ft.setTiming({ trainingMs: 40, trainingSteps: 4, ackTimeoutMs: 12 * 3600 * 1000 });
});

afterAll(async () => {
  await devnet?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("dataset upload: what should fool it", () => {
  test("wrong signer, expired or far-future timestamp, another user's path → 401; nothing stored", async () => {
    const u = await newSdkUser(devnet);
    const other = Wallet.createRandom();
    const before = ft.stats.datasetsUploaded;
    expect(await errorOf(await upload(u, DATASET, { key: other.privateKey }))).toEqual({
      status: 401,
      error: "Provider: upload dataset: invalid signature",
    });
    expect((await upload(u, DATASET, { timestamp: now() - 301 })).status).toBe(401);
    expect((await upload(u, DATASET, { timestamp: now() + 400 })).status).toBe(401);
    // A valid signature of u, replayed on another user's path.
    expect((await upload(u, DATASET, { pathUser: other.address })).status).toBe(401);
    expect(ft.stats.datasetsUploaded).toBe(before);
  });

  test("malformed requests → 400 with the reason; bad JSONL refused at upload", async () => {
    const u = await newSdkUser(devnet);
    const url = `${ft.url}/v1/user/${u.wallet.address}/dataset`;
    expect((await errorOf(await fetch(url, { method: "POST", body: "x" }))).status).toBe(400);
    const noFile = new FormData();
    noFile.append("signature", "0x00");
    noFile.append("timestamp", String(now()));
    expect(await errorOf(await fetch(url, { method: "POST", body: noFile }))).toEqual({
      status: 400,
      error: "Provider: upload dataset: file is required",
    });
    const truncated = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "multipart/form-data; boundary=zz" },
      body: "--zz\r\nContent-Disposition: form-data; name=",
    });
    expect(truncated.status).toBe(400);
    const badTs = new FormData();
    badTs.append("file", new Blob([DATASET]));
    badTs.append("signature", "0x00");
    badTs.append("timestamp", "soon");
    expect((await errorOf(await fetch(url, { method: "POST", body: badTs }))).error).toBe(
      "Provider: upload dataset: invalid timestamp format",
    );
    for (const bad of [
      "not json\n",
      '["array"]\n',
      '\n{"text":"blank first line"}\n',
      "\uFEFF{}\n",
      '{"text":""}\n',
    ]) {
      const res = await errorOf(await upload(u, Buffer.from(bad)));
      expect(res.status).toBe(400);
      expect(res.error).toMatch(/^Provider: upload dataset: dataset (is not valid JSONL|has no text)/);
    }
    expect(
      (await fetch(`${ft.url}/v1/user/not-an-address/dataset`, { method: "POST", body: noFile })).status,
    ).toBe(400);
  });

  test("size limit → 413, per-user quota → 400, full storage → 503 (a separate provider with tiny limits)", async () => {
    const small = await startFineTuningProviderSimulator({
      chain: {
        provider: devnet.chain.provider,
        chainId: devnet.chainId,
        fineTuning: devnet.contracts.fineTuning,
      },
      providerKey: Wallet.createRandom().privateKey,
      maxDatasetBytes: 1024,
      maxDatasetBytesPerUser: 1500,
      maxDatasetBytesTotal: 2000,
    });
    try {
      const post = (key: string, body: Uint8Array) => {
        const user = new Wallet(key).address;
        const ts = now();
        const form = new FormData();
        form.append("file", new Blob([body as Uint8Array<ArrayBuffer>]));
        form.append("signature", signDigest(key, datasetUploadDigest(user, ts)));
        form.append("timestamp", String(ts));
        return fetch(`${small.url}/v1/user/${user}/dataset`, { method: "POST", body: form });
      };
      const line = (n: number) => Buffer.from(`${JSON.stringify({ text: "x".repeat(n) })}\n`);
      const [a, b, c] = [0, 1, 2].map(() => Wallet.createRandom().privateKey) as [string, string, string];
      expect((await post(a, line(2000))).status).toBe(413);
      expect((await post(a, line(900))).status).toBe(200);
      expect((await post(a, line(800))).status).toBe(400);
      expect((await post(b, line(900))).status).toBe(200);
      expect((await post(c, line(300))).status).toBe(503);
    } finally {
      await small.close();
    }
  });
});

describe("task creation: what should fool it", () => {
  test("missing fields, mismatched user, bad numbers, unknown model, no sub-account, not JSON → 400", async () => {
    const u = await newSdkUser(devnet);
    const hash = await uploadOk(u);
    const body = taskBody(u, hash);
    const { signature: _s, ...noSignature } = body;
    expect(await errorOf(await postTask(u.wallet.address, noSignature))).toEqual({
      status: 400,
      error:
        "Provider: bind service: Key: 'Task.Signature' Error:Field validation for 'Signature' failed on the 'required' tag",
    });
    expect((await postTask(Wallet.createRandom().address, body)).status).toBe(400);
    expect((await postTask(u.wallet.address, { ...body, nonce: "-1" })).status).toBe(400);
    expect((await postTask(u.wallet.address, { ...body, nonce: "1e9" })).status).toBe(400);
    expect((await postTask(u.wallet.address, { ...body, fee: 5 })).status).toBe(400);
    expect(
      (
        await errorOf(
          await postTask(u.wallet.address, { ...body, preTrainedModelHash: `0x${"1".repeat(64)}` }),
        )
      ).error,
    ).toBe("Provider: register service: unsupported model");
    expect((await postTask(u.wallet.address, "{not json")).status).toBe(400);
    expect((await postTask(u.wallet.address, "[]")).status).toBe(400);
    // No FineTuningServing sub-account yet.
    expect((await errorOf(await postTask(u.wallet.address, body))).error).toMatch(
      /has no account with this provider/,
    );
    expect(ft.tasks().filter((t) => t.userAddress === u.wallet.address)).toEqual([]);
  });

  test("a task signed by another key is accepted, then fails setup: no delivery, no payment", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const hash = await uploadOk(u);
    const res = await postTask(
      u.wallet.address,
      taskBody(u, hash, { key: Wallet.createRandom().privateKey }),
    );
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const t = await ft.waitForStatus(id, ["Failed", "Delivered"]);
    expect(t.progress).toBe("Failed");
    expect(t.log).toContain("setup failed: signature error");
    expect(await deliverableOf(u.wallet.address, id)).toBeUndefined();
    const account = await serving().getFunction("getAccount")(u.wallet.address, ft.address);
    expect(account.balance).toBe(parseEther("1"));
  });

  test("a dataset that was never uploaded fails setup", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const id = await createTaskOk(u, keccak256("0x1234"));
    const t = await ft.waitForStatus(id, ["Failed", "Delivered"]);
    expect(t.log.at(-1)).toMatch(/^setup failed: dataset sources failed/);
  });

  test("one unfinished task per user; another user's pending task needs wait=true (queued)", async () => {
    const a = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const b = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const [ha, hb] = [await uploadOk(a), await uploadOk(b)];
    await ft.setFaults({ holdAt: "Init" });
    const first = await createTaskOk(a, ha);
    expect(await (await fetch(`${ft.url}/v1/task/pending`)).text()).toBe("1");
    expect((await errorOf(await postTask(a.wallet.address, taskBody(a, ha)))).error).toBe(
      "Provider: register service: cannot create a new task while there is an unfinished task",
    );
    expect((await errorOf(await postTask(b.wallet.address, taskBody(b, hb)))).error).toBe(
      "Provider: register service: cannot create a new task while there are in-progress tasks",
    );
    const queued = await postTask(b.wallet.address, { ...taskBody(b, hb), wait: true });
    expect(queued.status).toBe(201);
    const second = ((await queued.json()) as { id: string }).id;
    expect(ft.task(second)?.log).toEqual(["There are 1 tasks in the queue ahead."]);
    await ft.setFaults({});
    for (const [u, id] of [
      [a, first],
      [b, second],
    ] as const) {
      expect((await ft.waitForStatus(id, ["Delivered", "Failed"])).progress).toBe("Delivered");
      await u.broker.fineTuning!.acknowledgeDeliverable(ft.address, id, DEVNET_GAS_PRICE);
      await ft.waitForStatus(id, "Finished");
    }
  });
});

describe("reads and cancellation", () => {
  test("another user's task → 403, unknown → 404, not a UUID → 400; lists are per user", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const id = await createTaskOk(u, await uploadOk(u));
    const other = Wallet.createRandom().address;
    const get = (user: string, tid: string, suffix = "") =>
      fetch(`${ft.url}/v1/user/${user}/task/${tid}${suffix}`);
    expect((await get(u.wallet.address.toLowerCase(), id)).status).toBe(200);
    expect((await get(other, id)).status).toBe(403);
    expect((await get(other, id, "/log")).status).toBe(403);
    expect((await get(u.wallet.address, "00000000-0000-4000-8000-000000000000")).status).toBe(404);
    expect((await get(u.wallet.address, "..%2F..%2Fetc")).status).toBe(400);
    expect(await (await fetch(`${ft.url}/v1/user/${other}/task`)).json()).toEqual([]);
    const latest = (await (await fetch(`${ft.url}/v1/user/${u.wallet.address}/task?latest=true`)).json()) as {
      id: string;
    }[];
    expect(latest.map((t) => t.id)).toEqual([id]);
    await ft.waitForStatus(id, "Delivered");
    await u.broker.fineTuning!.acknowledgeDeliverable(ft.address, id, DEVNET_GAS_PRICE);
    await ft.waitForStatus(id, "Finished");
  });

  test("cancel: another signer → 401; the owner in Init → cancelled (Failed); then → 409", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const hash = await uploadOk(u);
    await ft.setFaults({ holdAt: "Init" });
    const id = await createTaskOk(u, hash);
    const cancel = (key: string) =>
      fetch(`${ft.url}/v1/user/${u.wallet.address}/task/${id}/cancel`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ signature: signDigest(key, cancelTaskDigest(id)) }),
      });
    expect((await cancel(Wallet.createRandom().privateKey)).status).toBe(401);
    // The SDK's own cancelTask (signature over the UUID's 16 bytes).
    expect(await u.broker.fineTuning!.cancelTask(ft.address, id)).toBe(`task ${id} cancelled`);
    expect(ft.task(id)?.progress).toBe("Failed");
    expect(await errorOf(await cancel(keyOf(u)))).toEqual({
      status: 409,
      error: "Provider: cancel task: task cannot be cancelled in its current state (Failed)",
    });
    await ft.setFaults({});
    expect(await deliverableOf(u.wallet.address, id)).toBeUndefined();
  });
});

describe("faults", () => {
  test("failure mid-training: Failed with the reason, service released, no deliverable, next task runs", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const hash = await uploadOk(u);
    await ft.setFaults({ failAt: "Training" });
    const id = await createTaskOk(u, hash);
    const t = await ft.waitForStatus(id, ["Failed", "Delivered"]);
    expect(t.history).toEqual(["Init", "SettingUp", "SetUp", "Training", "Failed"]);
    expect(t.log).toContain("training failed: training container exited with code 1 (simulated)");
    expect(await deliverableOf(u.wallet.address, id)).toBeUndefined();
    const service = await serving().getFunction("getService")(ft.address);
    expect(service.occupied).toBe(false);
    await ft.setFaults({});
    const next = await createTaskOk(u, hash);
    expect((await ft.waitForStatus(next, ["Delivered", "Failed"])).progress).toBe("Delivered");
    await u.broker.fineTuning!.acknowledgeDeliverable(ft.address, next, DEVNET_GAS_PRICE);
    await ft.waitForStatus(next, "Finished");
  });

  test("provider restart during training: the same task resumes and is delivered once", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const hash = await uploadOk(u);
    ft.setTiming({ trainingMs: 60_000, trainingSteps: 600 });
    const id = await createTaskOk(u, hash);
    await ft.waitForStatus(id, "Training");
    const restarted = ft.restart();
    ft.setTiming({ trainingMs: 40, trainingSteps: 4 });
    await restarted;
    const t = await ft.waitForStatus(id, ["Delivered", "Failed"]);
    expect(t.history).toEqual([
      "Init",
      "SettingUp",
      "SetUp",
      "Training",
      "SetUp",
      "Training",
      "Trained",
      "Delivering",
      "Delivered",
    ]);
    expect(t.log).toContain(`Provider restarted: task ${id} resumes from SetUp`);
    const res = await fetch(`${ft.url}/v1/user/${u.wallet.address}/task/${id}`);
    expect(((await res.json()) as { progress: string }).progress).toBe("Delivered");
    expect((await deliverableOf(u.wallet.address, id))?.modelRootHash).toBe(t.delivery?.modelRootHash);
    await u.broker.fineTuning!.acknowledgeDeliverable(ft.address, id, DEVNET_GAS_PRICE);
    await ft.waitForStatus(id, "Finished");
  });

  test("LoRA download: before delivery → 404; wrong signer, stale timestamp → 401; another user → 403", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const hash = await uploadOk(u);
    await ft.setFaults({ holdAt: "Trained" });
    const id = await createTaskOk(u, hash);
    await ft.waitForStatus(id, "Trained");
    expect((await lora(u, id)).status).toBe(404);
    await ft.setFaults({});
    await ft.waitForStatus(id, "Delivered");
    expect((await lora(u, id, { key: Wallet.createRandom().privateKey })).status).toBe(401);
    expect((await lora(u, id, { timestamp: now() - 600 })).status).toBe(401);
    const mallory = await newSdkUser(devnet);
    expect((await lora(mallory, id)).status).toBe(403);
    const ok = await lora(u, id);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("application/octet-stream");
    const bytes = Buffer.from(await ok.arrayBuffer());
    expect(keccak256(bytes)).toBe((await deliverableOf(u.wallet.address, id))?.modelRootHash);
    await u.broker.fineTuning!.acknowledgeDeliverable(ft.address, id, DEVNET_GAS_PRICE);
    await ft.waitForStatus(id, "Finished");
  });

  test("a tag signature by another key: the SDK's decryptModel refuses the model", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const hash = await uploadOk(u);
    await ft.setFaults({ wrongTagSigner: true });
    const id = await createTaskOk(u, hash);
    await ft.waitForStatus(id, "Delivered");
    const out = join(dir, id);
    await mkdir(out);
    await u.broker.fineTuning!.acknowledgeModel(ft.address, id, out, {
      downloadMethod: "tee",
      gasPrice: DEVNET_GAS_PRICE,
    });
    await ft.waitForStatus(id, "Finished");
    await expect(
      u.broker.fineTuning!.decryptModel(
        ft.address,
        id,
        join(out, `lora_model_${id}.zip`),
        join(out, "model.zip"),
      ),
    ).rejects.toThrow("Invalid tag signature");
  });

  test("a corrupted download no longer matches the on-chain modelRootHash (the SDK only warns)", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const id = await createTaskOk(u, await uploadOk(u));
    await ft.waitForStatus(id, "Delivered");
    await ft.setFaults({ corruptDelivery: true });
    const bytes = Buffer.from(await (await lora(u, id)).arrayBuffer());
    expect(keccak256(bytes)).not.toBe((await deliverableOf(u.wallet.address, id))?.modelRootHash);
    await ft.setFaults({});
    await u.broker.fineTuning!.acknowledgeDeliverable(ft.address, id, DEVNET_GAS_PRICE);
    await ft.waitForStatus(id, "Finished");
  });

  test("no acknowledgement in time: settled without the secret at the penalty fee", async () => {
    const u = await newSdkUser(devnet, { fineTuningProvider: ft.address });
    const id = await createTaskOk(u, await uploadOk(u));
    const delivered = await ft.waitForStatus(id, "Delivered");
    const paidBefore = ft.stats.settledFee;
    ft.setTiming({ ackTimeoutMs: 0 });
    await ft.waitForStatus(id, "Finished");
    const d = await deliverableOf(u.wallet.address, id);
    expect({ acknowledged: d?.acknowledged, settled: d?.settled, secret: d?.encryptedSecret }).toEqual({
      acknowledged: false,
      settled: true,
      secret: "0x",
    });
    const account = await serving().getFunction("getAccount")(u.wallet.address, ft.address);
    expect(account.balance).toBe(parseEther("1") - (BigInt(delivered.fee) * 30n) / 100n);
    expect(ft.stats.settledFee - paidBefore).toBe((BigInt(delivered.fee) * 30n) / 100n);
    // The contract now refuses the user's next deliverable until this one is acknowledged, which it
    // no longer can be: the provider's next addDeliverable reverts and the task fails.
    const next = await createTaskOk(u, await uploadOk(u));
    const t = await ft.waitForStatus(next, ["Failed", "Delivered"]);
    expect(t.log.at(-1)).toMatch(/PreviousDeliverableNotAcknowledged/);
  });

  test("failStatus: the API answers 503 (generic body) except /v1/quote; down: connection refused", async () => {
    await ft.setFaults({ failStatus: 503 });
    expect(await errorOf(await fetch(`${ft.url}/v1/task/pending`))).toEqual({
      status: 503,
      error: "Service Unavailable",
    });
    expect((await fetch(`${ft.url}/v1/quote`)).status).toBe(200);
    await ft.setFaults({ down: true });
    await expect(fetch(`${ft.url}/v1/task/pending`)).rejects.toThrow();
    await ft.setFaults({});
    expect(await (await fetch(`${ft.url}/v1/task/pending`)).text()).toBe("0");
  });
});

test("model catalogue: /v1/model lists the customized models, /v1/model/<name|hash>, usage zip", async () => {
  const list = (await (await fetch(`${ft.url}/v1/model`)).json()) as { name: string }[];
  expect(list).toEqual([
    {
      name: DEVNET_MINI_LM.name,
      hash: DEVNET_MINI_LM.hash,
      image: DEVNET_MINI_LM.image,
      dataType: "text",
      trainingScript: DEVNET_MINI_LM.trainingScript,
      description: DEVNET_MINI_LM.description,
      tokenizer: DEVNET_MINI_LM.tokenizer,
    },
  ]);
  expect((await (await fetch(`${ft.url}/v1/model/${DEVNET_MINI_LM.hash}`)).json()).name).toBe(
    DEVNET_MINI_LM.name,
  );
  expect((await fetch(`${ft.url}/v1/model/${QWEN_2_5_0_5B_INSTRUCT.name}`)).status).toBe(404);
  const u = await newSdkUser(devnet);
  const zipPath = join(dir, "usage");
  await u.broker.fineTuning!.modelUsage(ft.address, DEVNET_MINI_LM.name, zipPath);
  expect((await readFile(zipPath)).subarray(0, 4)).toEqual(Buffer.from("PK\u0003\u0004"));
  const quote = JSON.parse(await (await fetch(`${ft.url}/v1/quote`)).text());
  expect(typeof quote.report_data).toBe("string");
});
