import { parseTask, VerificationMethod } from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import type { ZeroGBroker } from "./sdk.js";
import { ServiceDirectory, statedGpuType } from "./services.js";

/** Service records as the SDK's `listService` returns them (only the fields the directory reads). */
function record(provider: string, model: string, additionalInfo: string, price = 1n) {
  return {
    provider,
    serviceType: "chatbot",
    url: `http://127.0.0.1:1/${provider}`,
    model,
    verifiability: "TeeML",
    inputPrice: price,
    outputPrice: price,
    teeSignerAddress: provider,
    teeSignerAcknowledged: true,
    additionalInfo,
  };
}

const records = [
  record("0xa100", "llama-3-8b", '{"ProviderType":"decentralized","GPUType":"A100"}', 2n),
  record("0xh100", "llama-3-8b", '{"ProviderType":"decentralized","gpu_type":"H100"}', 1n),
  record("0xnone", "llama-3-8b", '{"ProviderType":"decentralized"}', 3n),
  record("0xbad", "gpt-oss-120b", "not json"),
];
const broker = {
  inference: { listService: async (offset: number) => (offset === 0 ? records : []) },
} as unknown as ZeroGBroker;

function task(resources: Record<string, unknown> | undefined, model = "llama-3-8b") {
  const parsed = parseTask({ task_type: "inference", model, inputs: { prompt: "hi" }, resources });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.violations));
  return { ...parsed.task, verification: VerificationMethod.TEE_ML };
}

describe("ServiceDirectory and GPU types", () => {
  it("reads the GPU type a record states in additionalInfo, whatever the key's case", () => {
    expect(statedGpuType({ GPUType: " A100 " })).toBe("A100");
    expect(statedGpuType({ gpu_type: "H100" })).toBe("H100");
    expect(statedGpuType({ GPUType: 100 })).toBe("");
    expect(statedGpuType({})).toBe("");
  });

  it("lists each service's GPU type", async () => {
    const services = await new ServiceDirectory(broker, 60_000).list({ model: "llama-3-8b" });
    expect(services.map((s) => [s.providerAddress, s.gpuType])).toEqual([
      ["0xa100", "A100"],
      ["0xh100", "H100"],
      ["0xnone", ""],
    ]);
  });

  it("chooses only providers stating the GPU type asked for (case-insensitive), any GPU otherwise", async () => {
    const directory = new ServiceDirectory(broker, 60_000);
    const providers = async (resources?: Record<string, unknown>) =>
      (await directory.candidates(task(resources))).map((r) => r.provider);
    expect(await providers({ gpu: "A100", memory: "16GB" })).toEqual(["0xa100"]);
    expect(await providers({ gpu: "h100" })).toEqual(["0xh100"]);
    expect(await providers(undefined)).toEqual(["0xh100", "0xa100", "0xnone"]);
    expect(await directory.refusal(task({ gpu: "A100" }))).toBeUndefined();
  });

  it("refuses a GPU type no provider states, listing the GPU types on offer", async () => {
    const directory = new ServiceDirectory(broker, 60_000);
    expect(await directory.candidates(task({ gpu: "B200" }))).toEqual([]);
    const refusal = await directory.refusal(task({ gpu: "B200" }));
    expect(refusal).toContain('states GPU type "B200"');
    expect(refusal).toContain("GPU types on offer: A100, H100");
    const none = await directory.refusal(task({ gpu: "A100" }, "gpt-oss-120b"));
    expect(none).toContain("GPU types on offer: none stated");
    // A model nobody offers is still refused for the model, not the GPU.
    expect(await directory.refusal(task({ gpu: "A100" }, "no-such-model"))).toContain(
      'no provider offers model "no-such-model"',
    );
  });
});
