import { connect } from "node:net";
import { createZGComputeNetworkBroker } from "@0gfoundation/0g-compute-ts-sdk";
import { formatEther, Wallet } from "ethers";
import { describe, expect, test, vi } from "vitest";
import { createJsonRpcProvider } from "./create-json-rpc-provider.js";
import { SDK_HARDHAT_ADDRESSES } from "./deploy-zerog-contracts.js";
import { startDevnet } from "./start-devnet.js";

type SdkSigner = Parameters<typeof createZGComputeNetworkBroker>[0];

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

const listeningServers = () => process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;

describe("startDevnet", () => {
  test("default devnet: 3 providers on chain, SDK defaults for chain 31337 match, close frees every port", async () => {
    vi.useRealTimers();
    expect(listeningServers()).toBe(0);
    const devnet = await startDevnet();
    // Startup timing, for the report (deploy ≈ 1.5 s on this machine).
    console.info(
      "startDevnet timings (ms):",
      JSON.stringify(devnet.timings, (_k, v) => (typeof v === "number" ? Math.round(v) : v)),
    );
    expect(devnet.chainId).toBe(31337);
    expect(devnet.contracts).toEqual(SDK_HARDHAT_ADDRESSES);
    expect(devnet.providers.map((p) => p.models[0])).toEqual(["llama-3-8b", "llama-3-8b", "gpt-oss-120b"]);
    expect(new Set(devnet.providers.map((p) => p.address)).size).toBe(3);
    expect(devnet.trust?.rootCaDer.length).toBeGreaterThan(100);

    // No contract addresses passed: the SDK's hard-coded `hardhat` set is where the devnet deployed.
    const wallet = new Wallet(devnet.userPrivateKey, createJsonRpcProvider(devnet.rpcUrl, devnet.chainId));
    const broker = await createZGComputeNetworkBroker(wallet as unknown as SdkSigner);
    const services = await broker.inference.listService();
    expect(services.map((s) => s.provider).sort()).toEqual(devnet.providers.map((p) => p.address).sort());

    const ports = [devnet.rpcUrl, ...devnet.providers.map((p) => p.url)].map((u) => Number(new URL(u).port));
    for (const port of ports) expect(await canConnect(port)).toBe(true);
    // Leave keep-alive connections open on every server; close() must still finish.
    await Promise.all(devnet.providers.map(async (p) => (await fetch(`${p.url}/v1/models`)).arrayBuffer()));
    await devnet.close();
    for (const port of ports) expect(await canConnect(port)).toBe(false);
    expect(listeningServers()).toBe(0);
    await devnet.close(); // idempotent
  });

  test("custom providers, placeholder attestation, userFunds", async () => {
    const devnet = await startDevnet({
      providers: [
        { model: "qwen-2.5-7b", extraModels: ["qwen-2.5-7b-instruct"], inputPrice: 5n, outputPrice: 7n },
      ],
      attestation: "placeholder",
      userFunds: 42,
    });
    try {
      expect(formatEther(await devnet.chain.provider.getBalance(devnet.userAddress))).toBe("42.0");
      expect(devnet.trust).toBeUndefined();
      const [p] = devnet.providers;
      expect(p?.models).toEqual(["qwen-2.5-7b", "qwen-2.5-7b-instruct"]);
      expect(p?.inputPrice).toBe(5n);
      const quote = await (await fetch(`${p?.url}/v1/quote`)).json();
      expect(quote.placeholder).toBe(true);
      const report = await (await fetch(`${p?.url}/v1/proxy/attestation/report?model=qwen-2.5-7b`)).json();
      expect(report.signing_address).toBe(p?.teeAddress);
    } finally {
      await devnet.close();
    }
    expect(listeningServers()).toBe(0);
  });
});
