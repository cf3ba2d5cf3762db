import { create } from "@bufbuild/protobuf";
import { ComputeTaskSchema, ResourcesSchema, TaskType, VerificationMethod } from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import type { FineTuningService } from "./fine-tuning-contract.js";
import { fineTuningServiceList, selectServices } from "./select-service.js";

const service = (over: Partial<FineTuningService> & { gpuType?: string }): FineTuningService => ({
  provider: "0x1111111111111111111111111111111111111111",
  url: "http://127.0.0.1:1",
  quota: { cpuCount: 8n, nodeMemory: 187n, gpuCount: 1n, nodeStorage: 900n, gpuType: over.gpuType ?? "H200" },
  pricePerToken: 1_000_000_000n,
  occupied: false,
  models: ["Qwen2.5-0.5B-Instruct"],
  teeSignerAddress: "0x2222222222222222222222222222222222222222",
  teeSignerAcknowledged: true,
  ...over,
});
const a = service({ provider: "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", pricePerToken: 3n });
const b = service({
  provider: "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
  pricePerToken: 2n,
  occupied: true,
});
const c = service({
  provider: "0xcccccccccccccccccccccccccccccccccccccccc",
  pricePerToken: 5n,
  gpuType: "NVIDIA A100",
  models: ["Qwen2.5-0.5B-Instruct", "Qwen3-32B"],
});
const unacked = service({
  provider: "0xdddddddddddddddddddddddddddddddddddddddd",
  teeSignerAcknowledged: false,
  models: ["secret-model"],
});
const all = [a, b, c, unacked];

const task = (over: Record<string, unknown> = {}) =>
  create(ComputeTaskSchema, {
    taskType: TaskType.FINE_TUNING,
    model: "Qwen2.5-0.5B-Instruct",
    verification: VerificationMethod.TEE_ML,
    ...over,
  });
const pick = (t = task()) => {
  const r = selectServices(all, t);
  return r.ok ? r.services.map((s) => s.provider.slice(2, 3)) : r.refusal;
};

describe("selectServices", () => {
  it("free before occupied, then cheapest; filters by model, pin, GPU type, count and memory", () => {
    expect(pick()).toEqual(["a", "c", "b"]);
    expect(pick(task({ model: "Qwen3-32B" }))).toEqual(["c"]);
    expect(pick(task({ providerAddress: b.provider.toUpperCase().replace("0X", "0x") }))).toEqual(["b"]);
    expect(pick(task({ resources: create(ResourcesSchema, { gpuType: "a100" }) }))).toEqual(["c"]);
    expect(pick(task({ resources: create(ResourcesSchema, { gpuType: "NVIDIA H200" }) }))).toEqual([
      "a",
      "b",
    ]);
    expect(pick(task({ resources: create(ResourcesSchema, { memory: "150GiB" }) }))).toEqual(["a", "c", "b"]);
  });

  it("refuses clearly, naming what is on offer", () => {
    expect(pick(task({ model: "llama-3-8b" }))).toBe(
      'no fine-tuning provider offers base model "llama-3-8b"; base models on offer: Qwen2.5-0.5B-Instruct, Qwen3-32B',
    );
    // A service whose TEE signer 0G has not acknowledged is not on offer.
    expect(pick(task({ model: "secret-model" }))).toMatch(
      /^no fine-tuning provider offers base model "secret-model"/,
    );
    expect(pick(task({ taskType: TaskType.TRAINING, model: "my-model" }))).toBe(
      'training from scratch is not offered by any 0G provider: 0G offers fine-tuning of a base model on your dataset; submit task_type "fine-tuning" with one of the base models on offer: Qwen2.5-0.5B-Instruct, Qwen3-32B',
    );
    expect(pick(task({ verification: VerificationMethod.ZK_ML }))).toMatch(
      /TEEs only; submit with verification tee-ml, not zk-ml/,
    );
    expect(pick(task({ providerAddress: "0x9999999999999999999999999999999999999999" }))).toMatch(
      /does not fine-tune/,
    );
    expect(pick(task({ resources: create(ResourcesSchema, { gpuType: "B200", gpu: 2 }) }))).toBe(
      'no provider of "Qwen2.5-0.5B-Instruct" has the resources asked (gpu_type B200, 2 GPU(s)); on offer: 1× H200, 187 GB; 1× H200, 187 GB; 1× NVIDIA A100, 187 GB',
    );
    expect(pick(task({ resources: create(ResourcesSchema, { memory: "200GB" }) }))).toMatch(/memory 200GB/);
    expect(selectServices([], task({ taskType: TaskType.TRAINING }))).toMatchObject({
      ok: false,
      refusal: expect.stringMatching(/base models on offer: none right now$/),
    });
  });
});

describe("fineTuningServiceList", () => {
  it("one wire service per acknowledged base model, filterable", () => {
    const list = fineTuningServiceList(all);
    expect(
      list.map((s) => `${s.providerAddress.slice(2, 3)} ${s.model} ${s.gpuType} ${s.inputPriceNeuron}`),
    ).toEqual([
      "a Qwen2.5-0.5B-Instruct H200 3",
      "b Qwen2.5-0.5B-Instruct H200 2",
      "c Qwen2.5-0.5B-Instruct NVIDIA A100 5",
      "c Qwen3-32B NVIDIA A100 5",
    ]);
    expect(
      list.every((s) => s.serviceType === "fine-tuning" && s.verifiability === VerificationMethod.TEE_ML),
    ).toBe(true);
    expect(fineTuningServiceList(all, { model: "Qwen3-32B" })).toHaveLength(1);
    expect(fineTuningServiceList(all, { verification: VerificationMethod.ZK_ML })).toEqual([]);
  });
});
