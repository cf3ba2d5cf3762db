import { FailureReason, JobState } from "@chaoschain/zerog-core";
import { type Devnet, registerProviderService, startDevnet } from "@chaoschain/zerog-devnet";
import { Contract, parseEther, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCustomBridge, task } from "./harness.js";

// Entries of the on-chain service registry are written by providers themselves: an entry naming another
// provider's URL, or a URL the bridge must not call, never gets the bridge to trust, pay or call it.

let devnet: Devnet;
beforeAll(async () => {
  devnet = await startDevnet({ providers: [{ model: "llama-3-8b" }] });
});
afterAll(() => devnet?.close());

const servingAbi = ["function accountExists(address user, address provider) view returns (bool)"];

/** Registers (and has the owner acknowledge) a service of a fresh provider account. */
async function register(url: string, teeSignerAddress: string, inputPrice = 1n): Promise<string> {
  const key = Wallet.createRandom().privateKey;
  const deployer = new Wallet(devnet.chain.accounts.deployer.privateKey, devnet.chain.provider);
  await (await deployer.sendTransaction({ to: new Wallet(key).address, value: parseEther("200") })).wait();
  const { provider } = await registerProviderService(devnet.chain, devnet.contracts, {
    providerKey: key,
    url,
    model: "llama-3-8b",
    teeSignerAddress,
    inputPrice,
    outputPrice: 1n,
  });
  return provider;
}

describe("a hostile registry entry", () => {
  it("naming an admitted provider's URL with its own TEE signer is checked anew: refused, never acknowledged or funded", async () => {
    const [honest] = devnet.providers as [Devnet["providers"][0]];
    const impostor = await register(honest.url, Wallet.createRandom().address);
    const { running, client, wallet } = await startCustomBridge(devnet);
    try {
      // The honest provider is admitted first (its attestation at that URL checked for its signer).
      const first = await client.submit({ task: task({ provider_address: honest.address }) });
      await client.getResult({ jobId: first.jobId, wait: true, timeoutSeconds: 60 });
      const chats = honest.stats.chatRequests;
      const { jobId } = await client.submit({ task: task({ provider_address: impostor }) });
      await client.getResult({ jobId, wait: true, timeoutSeconds: 60 }).catch(() => {});
      const job = await client.getJob({ jobId });
      expect(job.state).toBe(JobState.FAILED);
      expect(job.error?.reason).toBe(FailureReason.PROOF_INVALID);
      expect(job.error?.message).toContain(`the TEE attestation of provider ${impostor} does not verify`);
      expect(honest.stats.chatRequests).toBe(chats);
      const serving = new Contract(devnet.contracts.inference, servingAbi, devnet.chain.provider);
      expect(await serving.getFunction("accountExists")(wallet.address, impostor)).toBe(false);
    } finally {
      await running.stop();
    }
  });

  it("with a URL that is not http(s), ranked first (cheapest): skipped, the job fails over", async () => {
    const [honest] = devnet.providers as [Devnet["providers"][0]];
    const bad = await register("unix:/var/run/docker.sock", Wallet.createRandom().address, 0n);
    const { running, client } = await startCustomBridge(devnet);
    try {
      const { jobId } = await client.submit({ task: task() });
      await client.getResult({ jobId, wait: true, timeoutSeconds: 60 });
      const job = await client.getJob({ jobId });
      expect(job.state).toBe(JobState.SUCCEEDED);
      expect(job.providerAddress.toLowerCase()).toBe(honest.address.toLowerCase());
      const pinned = await client.submit({ task: task({ provider_address: bad }) });
      await client.getResult({ jobId: pinned.jobId, wait: true, timeoutSeconds: 60 }).catch(() => {});
      expect((await client.getJob({ jobId: pinned.jobId })).error?.message).toContain(
        "is not an http(s) URL; the bridge does not call it",
      );
    } finally {
      await running.stop();
    }
  });
});
