import { FailureReason, JobState } from "@chaoschain/zerog-core";
import { DEFAULT_DEVNET_PROVIDERS } from "@chaoschain/zerog-devnet";
import { Code, ConnectError } from "@connectrpc/connect";
import { Contract, Wallet } from "ethers";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BridgeConfig } from "../src/config.js";
import { launch } from "../src/launcher.js";
import { startCustomBridge, startTestBridge, type TestBridge, task, testConfig, waitFor } from "./harness.js";

let t: TestBridge;
beforeAll(async () => {
  // The default providers (two llama-3-8b, one gpt-oss-120b, all TeeML) and a ZKML one.
  t = await startTestBridge({
    devnet: { providers: [...DEFAULT_DEVNET_PROVIDERS, { model: "mistral-7b", verifiability: "ZKML" }] },
  });
});
const teeProviders = () => t.devnet.providers.slice(0, DEFAULT_DEVNET_PROVIDERS.length);
afterAll(async () => {
  await t?.close();
});

const llama = () => t.devnet.providers.filter((p) => p.models[0] === "llama-3-8b");

async function resetFaults(): Promise<void> {
  for (const p of t.devnet.providers) await p.setFaults({});
}

async function runToEnd(overrides: Record<string, unknown> = {}) {
  const client = t.client();
  const { jobId } = await client.submit({ task: task(overrides) });
  const result = await client
    .getResult({ jobId, wait: true, timeoutSeconds: 60 })
    .catch((e: ConnectError) => e);
  return { job: await client.getJob({ jobId }), result };
}

const ledgerAbi = [
  "function getLedger(address user) view returns (tuple(address user, uint256 availableBalance, uint256 totalBalance, string additionalInfo))",
];

const servingAbi = ["function accountExists(address user, address provider) view returns (bool)"];

/** A bridge of its own wallet on the shared devnet, configured as for 0G testnet. */
const ownBridge = (overrides: Partial<BridgeConfig> = {}, fundEther = "100") =>
  startCustomBridge(t.devnet, overrides, fundEther);

describe("0G inference through the real protocol on the devnet", () => {
  it("first use of every provider at once: ledger, acknowledgements and top-ups go one transaction at a time", async () => {
    const client = t.client();
    const jobs = await Promise.all(
      teeProviders().map((p) =>
        client.submit({ task: task({ model: p.models[0], provider_address: p.address }) }),
      ),
    );
    const results = await Promise.all(
      jobs.map(({ jobId }) => client.getResult({ jobId, wait: true, timeoutSeconds: 60 })),
    );
    expect(results.map((r) => r.proof!.providerAddress.toLowerCase())).toEqual(
      teeProviders().map((p) => p.address.toLowerCase()),
    );
  });

  it("funds the ledger, discovers the service on chain, signs the request, verifies the response, and the provider is paid", async () => {
    const { job, result } = await runToEnd();
    expect(job.state).toBe(JobState.SUCCEEDED);
    if (result instanceof ConnectError) throw result;
    // The bridge created the ledger on chain and acknowledged the provider.
    const ledger = new Contract(t.devnet.contracts.ledger, ledgerAbi, t.devnet.chain.provider);
    const entry = await ledger.getFunction("getLedger")(t.devnet.userAddress);
    expect(entry.totalBalance).toBeGreaterThan(0n);
    // The provider that ran the job holds an unsettled fee for it, then settles it on chain.
    const provider = t.devnet.providers.find(
      (p) => p.address.toLowerCase() === job.providerAddress.toLowerCase(),
    )!;
    const fee = BigInt(result.usage!.feeNeuron);
    expect(fee).toBeGreaterThan(0n);
    expect(provider.unsettledFee(t.devnet.userAddress)).toBeGreaterThanOrEqual(fee);
    const chain = t.devnet.chain.provider;
    const before = await chain.getBalance(provider.address);
    const settlement = await provider.settle();
    const outcome = settlement.outcomes.find(
      (o) => o.user.toLowerCase() === t.devnet.userAddress.toLowerCase(),
    )!;
    expect(outcome.status).toBe("SUCCESS");
    expect(outcome.settledChatIds).toContain(result.proof!.chatId);
    expect(provider.unsettledFee(t.devnet.userAddress)).toBe(0n);
    // The provider's balance rose by exactly the settled fee, net of the settlement's gas.
    const receipt = (await chain.getTransactionReceipt(settlement.txHash!))!;
    const after = await chain.getBalance(provider.address);
    expect(after - before + receipt.gasUsed * receipt.gasPrice).toBe(outcome.totalFee);
  });

  it("reuses the SDK session across jobs, and replaces a session the user revoked on chain", async () => {
    const { running, client, wallet } = await ownBridge();
    try {
      const provider = llama()[0]!;
      const run = async () => {
        const { jobId } = await client.submit({ task: task({ provider_address: provider.address }) });
        return client.getResult({ jobId, wait: true, timeoutSeconds: 60 });
      };
      await run();
      const rejected = provider.stats.rejectedAuth;
      const inference = new Contract(
        t.devnet.contracts.inference,
        ["function revokeAllTokens(address provider)"],
        wallet.connect(t.devnet.chain.provider),
      );
      await (await inference.getFunction("revokeAllTokens")(provider.address)).wait();
      // The bridge still holds the revoked token: the provider refuses it once, then a fresh one runs the job.
      expect((await run()).proof!.providerAddress.toLowerCase()).toBe(provider.address.toLowerCase());
      expect(provider.stats.rejectedAuth).toBe(rejected + 1);
      await run();
      expect(provider.stats.rejectedAuth).toBe(rejected + 1);
    } finally {
      await running.stop();
    }
  });

  it("fails proof_invalid when the provider's response differs from what it signed; no output is returned", async () => {
    for (const p of llama()) await p.setFaults({ tamperResponse: true });
    try {
      const { job, result } = await runToEnd();
      expect(job.state).toBe(JobState.FAILED);
      expect(job.error?.reason).toBe(FailureReason.PROOF_INVALID);
      expect(result).toBeInstanceOf(ConnectError);
      expect((result as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((result as ConnectError).rawMessage).toContain("proof_invalid");
    } finally {
      await resetFaults();
    }
  });

  it("fails proof_invalid when the provider signs with a key other than its registered TEE signer", async () => {
    for (const p of llama()) await p.setFaults({ wrongSigner: true });
    try {
      const { job } = await runToEnd();
      expect(job.state).toBe(JobState.FAILED);
      expect(job.error?.reason).toBe(FailureReason.PROOF_INVALID);
      expect(job.error?.message).toMatch(/signer|signature/i);
    } finally {
      await resetFaults();
    }
  });

  it("fails proof_invalid when the provider keeps no signature", async () => {
    for (const p of llama()) await p.setFaults({ dropSignature: true });
    try {
      const { job } = await runToEnd();
      expect(job.error?.reason).toBe(FailureReason.PROOF_INVALID);
    } finally {
      await resetFaults();
    }
  });

  it("a provider whose quote does not verify is not acknowledged, funded or sent anything: admission comes first", async () => {
    const [forger] = llama() as [(typeof t.devnet.providers)[0]];
    await forger.setFaults({ forgeQuote: true });
    const { running, client, wallet } = await ownBridge();
    try {
      const chats = forger.stats.chatRequests;
      const { jobId } = await client.submit({ task: task({ provider_address: forger.address }) });
      await client.getResult({ jobId, wait: true, timeoutSeconds: 60 }).catch(() => {});
      const job = await client.getJob({ jobId });
      expect(job.error?.reason).toBe(FailureReason.PROOF_INVALID);
      expect(job.error?.message).toContain("does not verify");
      expect(forger.stats.chatRequests).toBe(chats);
      // No sub-account opened with it (which would move 1 0G to it and acknowledge its TEE signer).
      const serving = new Contract(t.devnet.contracts.inference, servingAbi, t.devnet.chain.provider);
      expect(await serving.getFunction("accountExists")(wallet.address, forger.address)).toBe(false);
    } finally {
      await resetFaults();
      await running.stop();
    }
  });

  it("fails over to a second provider of the model when the first is down", async () => {
    const [a, b] = llama() as [(typeof t.devnet.providers)[0], (typeof t.devnet.providers)[0]];
    for (const [down, up] of [
      [a, b],
      [b, a],
    ] as const) {
      await down.setFaults({ down: true });
      try {
        const { job } = await runToEnd();
        expect(job.state).toBe(JobState.SUCCEEDED);
        expect(job.providerAddress.toLowerCase()).toBe(up.address.toLowerCase());
      } finally {
        await resetFaults();
      }
    }
  });

  it("retries a provider answering 503, fails over, and fails provider_unavailable when all are failing", async () => {
    for (const p of llama()) await p.setFaults({ failStatus: 503 });
    try {
      const { job } = await runToEnd();
      expect(job.state).toBe(JobState.FAILED);
      expect(job.error?.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
      expect(job.error?.message).toContain("503");
    } finally {
      await resetFaults();
    }
  });

  it("runs on the pinned provider only", async () => {
    const pinned = llama()[1]!;
    const { job } = await runToEnd({ provider_address: pinned.address });
    expect(job.state).toBe(JobState.SUCCEEDED);
    expect(job.providerAddress.toLowerCase()).toBe(pinned.address.toLowerCase());
  });

  it("does not send again a request a provider received but did not answer in time: it may have charged for it", async () => {
    const { running, client } = await ownBridge({ providerTimeoutSeconds: 1 });
    const [slow, fast] = llama() as [(typeof t.devnet.providers)[0], (typeof t.devnet.providers)[0]];
    try {
      await slow.setFaults({ latencyMs: 4000 });
      await fast.setFaults({ latencyMs: 4000 });
      const prompt = "too slow: sent once";
      const { jobId } = await client.submit({ task: task({ inputs: { prompt } }) });
      await client.getResult({ jobId, wait: true, timeoutSeconds: 60 }).catch(() => {});
      const job = await client.getJob({ jobId });
      expect(job.error?.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
      expect(job.error?.message).toMatch(
        /did not answer within 1000 ms after receiving the request; the request is not sent again: the provider may have charged for it/,
      );
      // The provider finishes the request (and bills it) after the bridge gave up: billed once, not failed over.
      await waitFor(
        () => [slow, fast].flatMap((p) => p.billedRequests()).filter((r) => r.prompt === prompt).length > 0,
        { what: "the provider to bill the late request" },
      );
      expect([slow, fast].flatMap((p) => p.billedRequests()).filter((r) => r.prompt === prompt)).toHaveLength(
        1,
      );
    } finally {
      await resetFaults();
      await running.stop();
    }
  });

  it("a provider that takes requests and never answers ranks last after it failed: it does not fail every job of its model", async () => {
    const { running, client } = await ownBridge({ providerTimeoutSeconds: 1 });
    const run = async (prompt: string) => {
      const { jobId } = await client.submit({ task: task({ inputs: { prompt } }) });
      await client.getResult({ jobId, wait: true, timeoutSeconds: 60 }).catch(() => {});
      return client.getJob({ jobId });
    };
    try {
      // Both hang, so the first job fails on whichever provider this fresh bridge ranks first (a tie:
      // neither has answered yet); only that one keeps hanging.
      for (const p of llama()) await p.setFaults({ latencyMs: 30_000 });
      const first = await run("hanging provider 0");
      expect(first.error?.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
      const hanging = first.providerAddress.toLowerCase();
      const healthy = llama().find((p) => p.address.toLowerCase() !== hanging)!;
      await healthy.setFaults({});
      // Still a tie, so without the failure it would be ranked first again, and fail every job.
      for (const prompt of ["hanging provider 1", "hanging provider 2"]) {
        const job = await run(prompt);
        expect(job.state).toBe(JobState.SUCCEEDED);
        expect(job.providerAddress.toLowerCase()).toBe(healthy.address.toLowerCase());
      }
    } finally {
      await resetFaults();
      await running.stop();
    }
  });

  it("never runs zk-ml or op-ml as if verified: offered modes it cannot check are refused (FAILED_PRECONDITION)", async () => {
    const client = t.client();
    const zk = await client
      .submit({ task: task({ model: "mistral-7b", verification: "zk-ml" }) })
      .catch((e) => e);
    expect((zk as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((zk as ConnectError).rawMessage).toContain("can only verify tee-ml proofs");
    const tee = await client.submit({ task: task({ model: "mistral-7b" }) }).catch((e) => e);
    expect((tee as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((tee as ConnectError).rawMessage).toContain("on offer: zk-ml");
    const op = await client.submit({ task: task({ verification: "op-ml" }) }).catch((e) => e);
    expect((op as ConnectError).rawMessage).toContain("on offer: tee-ml");
  });

  it("refuses to start against an unreachable chain RPC, naming it", async () => {
    const err = await launch(
      testConfig({
        network: "custom",
        rpcUrl: "http://127.0.0.1:9",
        contracts: t.devnet.contracts,
        walletKey: Wallet.createRandom().privateKey,
      }),
      pino({ level: "silent" }),
    ).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain("cannot reach the 0G chain RPC at http://127.0.0.1:9");
  });

  it("fails insufficient_balance (FAILED_PRECONDITION) with how much to deposit when the wallet cannot fund a ledger", async () => {
    const { running, client } = await ownBridge({}, "0");
    try {
      const { jobId } = await client.submit({ task: task() });
      const err = await client
        .getResult({ jobId, wait: true, timeoutSeconds: 60 })
        .catch((e: ConnectError) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((err as ConnectError).rawMessage).toMatch(/insufficient_balance/);
      expect((err as ConnectError).rawMessage).toMatch(/send at least [\d.]+ 0G/);
      const job = await client.getJob({ jobId });
      expect(job.error?.reason).toBe(FailureReason.INSUFFICIENT_BALANCE);
    } finally {
      await running.stop();
    }
  });
});
