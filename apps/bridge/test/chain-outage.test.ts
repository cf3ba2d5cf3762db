import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCustomBridge, task, waitFor } from "./harness.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

// The chain RPC going down must not stop a bridge taking jobs: Submit checks a task against the
// service registry it last read, and jobs run on it (their funding was checked lately), while the
// registry is read again behind them. Before, once a registry read was due during an outage,
// every Submit on every replica failed UNAVAILABLE until the RPC came back.

const refreshSeconds = 1;
let devnet: Devnet;
let rpc: TcpProxy;
let bridge: Awaited<ReturnType<typeof startCustomBridge>> | undefined;
beforeAll(async () => {
  devnet = await startDevnet();
  rpc = await startTcpProxy(devnet.rpcUrl);
  bridge = await startCustomBridge(devnet, {
    rpcUrl: `http://127.0.0.1:${rpc.port}`,
    registryRefreshSeconds: refreshSeconds,
  });
}, 120_000);
afterAll(async () => {
  await bridge?.running.stop();
  await rpc?.close();
  await devnet?.close();
});

describe("a chain RPC outage longer than the registry refresh (--registry-refresh)", () => {
  it("still acknowledges Submits and runs their jobs on the registry last read", async () => {
    const { client } = bridge!;
    // One provider throughout: one this bridge has not funded yet cannot be used without the chain.
    const provider = devnet.providers.find((p) => p.models[0] === "llama-3-8b")!.address;
    const run = async (prompt: string) => {
      const { jobId } = await client.submit(
        { task: task({ inputs: { prompt }, provider_address: provider }) },
        { timeoutMs: 10_000 },
      );
      return client.getResult({ jobId, wait: true, timeoutSeconds: 30 }, { timeoutMs: 40_000 });
    };
    // With the chain up: the ledger, the provider's acknowledgement, a session and the registry.
    expect((await run("before the outage")).output).toBeTruthy();

    await rpc.setDown(true);
    const downAt = Date.now();
    await waitFor(() => Date.now() - downAt > 2000 * refreshSeconds, { what: "the registry's TTL to pass" });
    const during = await run("during the outage");
    expect(during.output).toBeTruthy();
    expect(during.proof?.providerAddress).toBeTruthy();

    await rpc.setDown(false);
    expect((await run("after the outage")).output).toBeTruthy();
  });

  it("fails over from a provider it cannot fund or sign for without the chain to one it has used", async () => {
    const { client } = bridge!;
    const used = devnet.providers.find((p) => p.models[0] === "llama-3-8b")!.address;
    const others = devnet.providers.filter((p) => p.models[0] === "llama-3-8b" && p.address !== used);
    expect(others.length).toBeGreaterThan(0); // tried first: no latency recorded yet
    await rpc.setDown(true);
    try {
      const { jobId } = await client.submit(
        { task: task({ inputs: { prompt: "unpinned, during the outage" } }) },
        { timeoutMs: 10_000 },
      );
      const result = await client.getResult({ jobId, wait: true, timeoutSeconds: 30 }, { timeoutMs: 40_000 });
      expect(result.output).toBeTruthy();
      expect(result.proof?.providerAddress.toLowerCase()).toBe(used.toLowerCase());
    } finally {
      await rpc.setDown(false);
    }
  });
});
