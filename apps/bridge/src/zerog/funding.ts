import { FailureReason } from "@chaoschain/zerog-core";
import { formatEther, type Provider, parseEther } from "ethers";
import type { Logger } from "pino";
import { BackendError } from "../backend.js";
import { PromiseCache } from "./promise-cache.js";
import type { ZeroGBroker } from "./sdk.js";
import type { TxQueue } from "./tx-queue.js";

export interface FundingPolicy {
  /** 0G deposited when the bridge creates the ledger (the contract's minimum is 3). */
  initialDeposit: number;
  /** Keep at least this much 0G available in the ledger; below it jobs fail insufficient_balance. */
  minLedgerBalance: number;
  /** How often each provider sub-account is topped up (unsettled fees + 2 × 1 0G), ms. */
  topUpIntervalMs: number;
  /** How long a ledger balance reading is trusted, ms. */
  balanceCheckIntervalMs: number;
  /** How long a sufficient balance reading still stands while the chain cannot be read, ms. */
  balanceStandsMs: number;
}

export const defaultFundingPolicy: FundingPolicy = {
  initialDeposit: 10,
  minLedgerBalance: 1,
  topUpIntervalMs: 30_000,
  balanceCheckIntervalMs: 10_000,
  balanceStandsMs: 300_000,
};

/** What the contract needs to open a sub-account with a provider (MIN_TRANSFER_AMOUNT). */
const subAccountOpening = parseEther("1");
const ledgerMinimum = parseEther("3");

function insufficient(message: string): BackendError {
  return new BackendError(FailureReason.INSUFFICIENT_BALANCE, message);
}

/**
 * Keeps the wallet's 0G ledger and provider sub-accounts able to pay: creates the ledger when
 * missing, acknowledges each provider's TEE signer (which opens its sub-account), and tops up each
 * sub-account on a timer, so that requests never send transactions. Every transaction goes
 * through one queue (the SDK's own auto-funding timer would race it for nonces).
 */
export class Funding {
  readonly #broker: ZeroGBroker;
  readonly #chain: Provider;
  readonly #wallet: string;
  readonly #txs: TxQueue;
  readonly #policy: FundingPolicy;
  readonly #logger: Logger;
  readonly #gasPrice: number | undefined;
  /** Done once per bridge: the ledger (key "") and each provider's acknowledgement and first top-up. */
  readonly #ready = new PromiseCache<string, void>();
  /** The last ledger balance check, shared by concurrent jobs and trusted for `balanceCheckIntervalMs`. */
  readonly #balanceCheck: PromiseCache<"ledger", void>;
  readonly #topUpTimers = new Set<NodeJS.Timeout>();
  /** When the ledger balance was last read and found sufficient (0: never). */
  #balanceOkAt = 0;

  constructor(options: {
    broker: ZeroGBroker;
    chain: Provider;
    wallet: string;
    txs: TxQueue;
    policy: FundingPolicy;
    logger: Logger;
    gasPrice: number | undefined;
  }) {
    this.#broker = options.broker;
    this.#chain = options.chain;
    this.#wallet = options.wallet;
    this.#txs = options.txs;
    this.#policy = options.policy;
    this.#logger = options.logger;
    this.#gasPrice = options.gasPrice;
    this.#balanceCheck = new PromiseCache(options.policy.balanceCheckIntervalMs);
  }

  /** Ensures the wallet's 0G ledger exists (creating it when missing). Cached once done. */
  async ledgerReady(): Promise<void> {
    await this.#ready.get("", () => this.#ensureLedger());
  }

  /** Ensures the ledger exists and the provider is acknowledged and auto-funded. Cached once done. */
  async ready(provider: string): Promise<void> {
    await this.#ready.get("", () => this.#ensureLedger());
    await this.#balanceCheck
      .get("ledger", () => this.#checkLedgerBalance())
      .catch((err: unknown) => {
        // The chain cannot be read just now: a balance found sufficient lately still stands (the provider
        // checks the account itself before it serves), so a short RPC outage does not fail every job.
        if (err instanceof BackendError || Date.now() - this.#balanceOkAt > this.#policy.balanceStandsMs)
          throw err;
      });
    await this.#ready.get(provider, () => this.#ensureProvider(provider));
  }

  async #ledgerExists(): Promise<boolean> {
    try {
      await this.#broker.ledger.getLedger();
      return true;
    } catch {
      return false;
    }
  }

  async #ensureLedger(): Promise<void> {
    if (await this.#ledgerExists()) return;
    const deposit = parseEther(String(this.#policy.initialDeposit));
    const balance = await this.#chain.getBalance(this.#wallet);
    if (balance < deposit + parseEther("0.01")) {
      throw insufficient(
        `wallet ${this.#wallet} holds ${formatEther(balance)} 0G and has no 0G compute ledger; ` +
          `creating one needs ${this.#policy.initialDeposit} 0G (contract minimum 3) plus gas: ` +
          `send at least ${formatEther(deposit + parseEther("0.01") - balance)} 0G to ${this.#wallet}`,
      );
    }
    if (deposit < ledgerMinimum) {
      throw insufficient(
        `the initial ledger deposit must be at least 3 0G, not ${this.#policy.initialDeposit}`,
      );
    }
    this.#logger.info({ deposit: this.#policy.initialDeposit }, "creating the 0G compute ledger");
    await this.#transact(
      () => this.#broker.ledger.addLedger(this.#policy.initialDeposit, this.#gasPrice),
      () => this.#ledgerExists(),
    );
  }

  /**
   * Sends a funding transaction unless `done()` already holds. Other bridges may share the wallet (replicas
   * on one Postgres): the same transaction from one of them makes ours revert ("ledger exists"), or takes
   * our nonce. After a failure, `done()` is asked again, and the transaction tried once more if still needed.
   */
  async #transact(send: () => Promise<unknown>, done: () => Promise<boolean>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#txs.run(send);
        return;
      } catch (err) {
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        if (await done()) return;
        if (attempt >= 2) throw err;
        this.#logger.warn({ err: (err as Error).message }, "a funding transaction failed; trying it again");
      }
    }
  }

  async #checkLedgerBalance(): Promise<void> {
    const ledger = await this.#broker.ledger.getLedger();
    const min = parseEther(String(this.#policy.minLedgerBalance));
    if (ledger.availableBalance < min) {
      this.#balanceOkAt = 0;
      throw insufficient(
        `the 0G ledger of ${this.#wallet} has ${formatEther(ledger.availableBalance)} 0G available, ` +
          `below the minimum of ${this.#policy.minLedgerBalance} 0G: deposit at least ` +
          `${formatEther(min - ledger.availableBalance)} 0G (broker.ledger.depositFund, or the 0G compute CLI)`,
      );
    }
    this.#balanceOkAt = Date.now();
  }

  async #ensureProvider(provider: string): Promise<void> {
    if (!(await this.#acknowledged(provider))) {
      const ledger = await this.#broker.ledger.getLedger();
      if (ledger.availableBalance < subAccountOpening) {
        throw insufficient(
          `opening an account with provider ${provider} moves 1 0G from the ledger, which has ` +
            `${formatEther(ledger.availableBalance)} 0G available: deposit at least ` +
            `${formatEther(subAccountOpening - ledger.availableBalance)} 0G`,
        );
      }
      this.#logger.info({ provider }, "acknowledging provider TEE signer");
      await this.#transact(
        () => this.#broker.inference.acknowledgeProviderSigner(provider, this.#gasPrice),
        () => this.#acknowledged(provider),
      );
    }
    const topUp = () =>
      this.#txs.run(() => this.#broker.inference.requestProcessor.checkAndFund(provider, 2, this.#gasPrice));
    await topUp();
    const timer = setInterval(() => void topUp(), this.#policy.topUpIntervalMs);
    timer.unref();
    this.#topUpTimers.add(timer);
  }

  async #acknowledged(provider: string): Promise<boolean> {
    try {
      return await this.#broker.inference.acknowledged(provider);
    } catch {
      return false;
    }
  }

  close(): void {
    for (const timer of this.#topUpTimers) clearInterval(timer);
    this.#topUpTimers.clear();
  }
}
