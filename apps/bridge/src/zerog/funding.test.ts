import { FailureReason } from "@chaoschain/zerog-core";
import { type Provider, parseEther } from "ethers";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../backend.js";
import { defaultFundingPolicy, Funding } from "./funding.js";
import type { ZeroGBroker } from "./sdk.js";
import { TxQueue } from "./tx-queue.js";

// The ledger balance check before each job, against a broker whose chain reads can fail (the real
// funding transactions are tested on the devnet in test/zerog.test.ts and test/load-faults.test.ts).

const provider = "0x1111111111111111111111111111111111111111";
const fundings: Funding[] = [];
afterEach(() => {
  for (const f of fundings.splice(0)) f.close();
});

function funding(balanceStandsMs: number) {
  const chain = { available: parseEther("5"), down: false };
  const read = async () => {
    if (chain.down)
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "ECONNREFUSED" });
    return { availableBalance: chain.available };
  };
  const broker = {
    ledger: { getLedger: read },
    inference: { acknowledged: async () => true, requestProcessor: { checkAndFund: async () => {} } },
  } as unknown as ZeroGBroker;
  const f = new Funding({
    broker,
    chain: {
      getBalance: async () => {
        await read(); // fails as every other read while the chain is down
        return parseEther("100");
      },
    } as unknown as Provider,
    wallet: "0x2222222222222222222222222222222222222222",
    txs: new TxQueue(),
    policy: { ...defaultFundingPolicy, balanceCheckIntervalMs: 0, balanceStandsMs },
    logger: pino({ level: "silent" }),
    gasPrice: undefined,
  });
  fundings.push(f);
  return { f, chain };
}

describe("Funding: the ledger balance before a job", () => {
  it("stands while the chain cannot be read, for a while, once it was found sufficient", async () => {
    const { f, chain } = funding(60_000);
    await f.ready(provider);
    chain.down = true;
    await expect(f.ready(provider)).resolves.toBeUndefined();
  });

  it("fails the job when the last sufficient reading is too old, or there was none", async () => {
    const { f, chain } = funding(0);
    chain.down = true;
    await expect(f.ready(provider)).rejects.toThrow("ECONNREFUSED");
    chain.down = false;
    await f.ready(provider);
    chain.down = true;
    await new Promise((resolve) => setTimeout(resolve, 5));
    await expect(f.ready(provider)).rejects.toThrow("ECONNREFUSED");
  });

  it("an insufficient balance fails at once, and no earlier reading stands for it", async () => {
    const { f, chain } = funding(60_000);
    await f.ready(provider);
    chain.available = parseEther("0.5");
    const err = await f.ready(provider).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).reason).toBe(FailureReason.INSUFFICIENT_BALANCE);
    chain.down = true;
    await expect(f.ready(provider)).rejects.toThrow("ECONNREFUSED");
  });
});
