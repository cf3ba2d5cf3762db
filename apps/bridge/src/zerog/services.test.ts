import { parseTask, VerificationMethod, ZeroGError } from "@chaoschain/zerog-core";
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

describe("ServiceDirectory while the chain RPC is down", () => {
  /** A registry whose reads can be made to fail or hang, and a clock the test moves. */
  function setup(extra: { readTimeoutMs?: number } = {}) {
    const chain = { mode: "up" as "up" | "down" | "hanging", reads: 0, records };
    const clock = { now: 0 };
    const switchable = {
      inference: {
        listService: (offset: number) => {
          chain.reads++;
          if (chain.mode === "down") return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:8545"));
          if (chain.mode === "hanging") return new Promise(() => {});
          return Promise.resolve(offset === 0 ? chain.records : []);
        },
      },
    } as unknown as ZeroGBroker;
    const stale: number[] = [];
    const directory = new ServiceDirectory(switchable, 60_000, {
      maxStaleMs: 600_000,
      retryMs: 1000,
      onStale: (_err, ageMs) => stale.push(ageMs),
      now: () => clock.now,
      ...extra,
    });
    return { chain, clock, directory, stale };
  }
  const providers = async (directory: ServiceDirectory) =>
    (await directory.candidates(task(undefined))).map((r) => r.provider);

  it("keeps admitting and running tasks on the last registry read, past its TTL, without waiting on the RPC", async () => {
    const { chain, clock, directory, stale } = setup();
    expect(await providers(directory)).toEqual(["0xh100", "0xa100", "0xnone"]);
    chain.mode = "down";
    clock.now = 61_000; // the TTL has passed: the registry is read again, and that fails
    expect(await directory.refusal(task(undefined))).toBeUndefined();
    expect(await providers(directory)).toEqual(["0xh100", "0xa100", "0xnone"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(stale).toEqual([61_000]); // reported once per outage
    // While reads fail, the chain is asked again at most once a second, not once per call.
    const reads = chain.reads;
    for (let i = 0; i < 50; i++) await directory.refusal(task(undefined));
    expect(chain.reads).toBe(reads);
    clock.now = 62_500;
    await directory.refusal(task(undefined));
    expect(chain.reads).toBe(reads + 1);
    // An RPC that hangs holds up no caller either.
    chain.mode = "hanging";
    clock.now = 70_000;
    expect(await providers(directory)).toEqual(["0xh100", "0xa100", "0xnone"]);
  });

  it("gives up on a read that hangs: past the stale limit callers get chain_unavailable, and the next read runs", async () => {
    const { chain, clock, directory } = setup({ readTimeoutMs: 50 });
    await directory.records();
    chain.mode = "hanging";
    clock.now = 61_000 + 600_000; // past TTL + maxStale: callers wait for a read
    await expect(directory.records()).rejects.toMatchObject({ code: "chain_unavailable" });
    chain.mode = "up";
    clock.now += 1000;
    expect(await providers(directory)).toEqual(["0xh100", "0xa100", "0xnone"]);
  });

  it("reads the registry again once the chain answers, and fails chain_unavailable when what it has is too old", async () => {
    const { chain, clock, directory, stale } = setup();
    await directory.records();
    chain.mode = "down";
    clock.now = 61_000;
    await directory.records();
    await new Promise((resolve) => setImmediate(resolve));
    chain.mode = "up";
    chain.records = records.slice(0, 1);
    clock.now = 63_000;
    await directory.records(); // still the old list: the new one is read behind this call
    await new Promise((resolve) => setImmediate(resolve));
    expect((await directory.records()).map((r) => r.provider)).toEqual(["0xa100"]);
    // Down again for longer than the TTL plus maxStaleMs: the caller is told the chain is unavailable.
    chain.mode = "down";
    clock.now = 63_000 + 60_000 + 600_000;
    const err = await directory.records().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZeroGError);
    expect((err as ZeroGError).code).toBe("chain_unavailable");
    expect(stale).toEqual([61_000]);
  });

  it("fails chain_unavailable at once when it has never read the registry", async () => {
    const { chain, directory } = setup();
    chain.mode = "down";
    await expect(directory.refusal(task(undefined))).rejects.toThrow(
      /could not read the 0G service registry/,
    );
  });
});

describe("ServiceDirectory and providers that failed", () => {
  const clock = { now: 1_000_000 };
  const directory = () => new ServiceDirectory(broker, 60_000, { now: () => clock.now });
  const order = async (d: ServiceDirectory) => (await d.candidates(task(undefined))).map((r) => r.provider);

  it("ranks a provider that just failed after the others, for a cooldown that doubles while it keeps failing", async () => {
    const d = directory();
    expect(await order(d)).toEqual(["0xh100", "0xa100", "0xnone"]);
    d.recordFailure("0xH100");
    expect(await order(d)).toEqual(["0xa100", "0xnone", "0xh100"]);
    clock.now += 15_000; // the first cooldown is over: tried first again (its price)
    expect(await order(d)).toEqual(["0xh100", "0xa100", "0xnone"]);
    d.recordFailure("0xh100");
    clock.now += 15_000;
    expect(await order(d)).toEqual(["0xa100", "0xnone", "0xh100"]); // 30 s after a second failure in a row
    clock.now += 15_000;
    expect(await order(d)).toEqual(["0xh100", "0xa100", "0xnone"]);
  });

  it("forgets a provider's failures once it answers; ranks several failing ones by the end of their cooldown", async () => {
    const d = directory();
    d.recordFailure("0xh100");
    d.recordFailure("0xh100");
    d.recordLatency("0xh100", 10);
    expect(await order(d)).toEqual(["0xh100", "0xa100", "0xnone"]);
    d.recordFailure("0xa100");
    d.recordFailure("0xa100");
    d.recordFailure("0xh100");
    // Both cooling down (still tried, last): the one whose cooldown ends first comes first.
    expect(await order(d)).toEqual(["0xnone", "0xh100", "0xa100"]);
  });

  it("caps the cooldown at five minutes, however long a provider keeps failing", async () => {
    const d = directory();
    for (let i = 0; i < 100; i++) d.recordFailure("0xh100");
    clock.now += 5 * 60_000;
    expect(await order(d)).toEqual(["0xh100", "0xa100", "0xnone"]);
  });
});
