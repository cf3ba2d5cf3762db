import { Contract, getAddress, Interface, type Provider, type Signer } from "ethers";

const quota = "(uint256 cpuCount, uint256 nodeMemory, uint256 gpuCount, uint256 nodeStorage, string gpuType)";
const service = `(address provider, string url, ${quota} quota, uint256 pricePerToken, bool occupied, string[] models, address teeSignerAddress, bool teeSignerAcknowledged)`;
const deliverable =
  "(string id, bytes modelRootHash, bytes encryptedSecret, bool acknowledged, uint248 timestamp, bool settled)";
const verifierInput =
  "(string id, bytes encryptedSecret, bytes modelRootHash, uint256 nonce, bytes signature, uint256 taskFee, address user)";

/** The part of FineTuningServing (SDK 0.9.0 bytecode, `0g-serving-contract`) the bridge uses. */
export const fineTuningServingAbi = [
  `function getAllServices() view returns (${service}[] services)`,
  `function getAccount(address user, address provider) view returns ((address user, address provider, uint256 nonce, uint256 balance, uint256 pendingRefund, (uint256 index, uint256 amount, uint256 createdAt, bool _deprecated_processed)[] refunds, string additionalInfo, ${deliverable}[] deliverables, uint256 validRefundsLength, uint256 deliverablesHead, uint256 deliverablesCount, bool acknowledged))`,
  "function accountExists(address user, address provider) view returns (bool)",
  `function getDeliverable(address user, address provider, string id) view returns (${deliverable})`,
  "function acknowledgeTEESigner(address provider, bool acknowledged)",
  "function acknowledgeDeliverable(address provider, string id)",
  `function settleFees(${verifierInput} verifierInput)`,
  "event FeesSettled(address indexed user, address indexed provider, string deliverableId, uint256 fee, bool acknowledged, uint256 nonce)",
] as const;

const ledgerAbi = [
  "function getLedger(address user) view returns ((address user, uint256 availableBalance, uint256 totalBalance, string additionalInfo))",
  "function getServiceInfo(address serviceAddress) view returns ((address serviceAddress, address serviceContract, string serviceType, string version, string fullName, string description, bool isRecommended, uint256 registeredAt))",
  "function transferFund(address provider, string serviceName, uint256 amount)",
] as const;

/** A FineTuningServing service record. */
export interface FineTuningService {
  provider: string;
  /** Base URL, without a trailing slash. */
  url: string;
  quota: { cpuCount: bigint; nodeMemory: bigint; gpuCount: bigint; nodeStorage: bigint; gpuType: string };
  /** Neuron per token per epoch. */
  pricePerToken: bigint;
  occupied: boolean;
  models: string[];
  teeSignerAddress: string;
  teeSignerAcknowledged: boolean;
}

export interface Deliverable {
  id: string;
  modelRootHash: string;
  encryptedSecret: string;
  acknowledged: boolean;
  timestamp: bigint;
  settled: boolean;
}

export interface FineTuningAccount {
  nonce: bigint;
  balance: bigint;
  pendingRefund: bigint;
  acknowledged: boolean;
  deliverables: Deliverable[];
}

/** What the provider's `settleFees` transaction carried, read back from the chain. */
export interface Settlement {
  txHash: string;
  id: string;
  encryptedSecret: string;
  modelRootHash: string;
  nonce: bigint;
  taskFee: bigint;
  user: string;
  /** The TEE's signature over the EIP-712 `VerifierMessage`. */
  signature: string;
}

const fineTuningInterface = new Interface(fineTuningServingAbi);

/**
 * Reads and writes FineTuningServing and the ledger's fine-tuning transfers for one wallet. Writes wait
 * for their receipt; callers serialize them (the wallet's transaction queue).
 */
export class FineTuningServing {
  readonly address: string;
  readonly #read: Contract;
  readonly #write: Contract;
  readonly #ledger: Contract;
  readonly #chain: Provider;
  readonly #user: string;
  readonly #gasPrice: bigint | undefined;
  #serviceName: Promise<string> | undefined;

  constructor(options: {
    fineTuning: string;
    ledger: string;
    chain: Provider;
    signer: Signer & { address: string };
    gasPrice?: number | bigint | undefined;
  }) {
    this.address = getAddress(options.fineTuning);
    this.#chain = options.chain;
    this.#read = new Contract(this.address, fineTuningServingAbi, options.chain);
    this.#write = new Contract(this.address, fineTuningServingAbi, options.signer);
    this.#ledger = new Contract(options.ledger, ledgerAbi, options.signer);
    this.#user = options.signer.address;
    this.#gasPrice = options.gasPrice === undefined ? undefined : BigInt(options.gasPrice);
  }

  async services(): Promise<FineTuningService[]> {
    const list = await this.#read.getFunction("getAllServices")();
    return list.map((s: FineTuningService & { quota: FineTuningService["quota"] }) => ({
      provider: getAddress(s.provider),
      url: String(s.url).replace(/\/+$/, ""),
      quota: {
        cpuCount: BigInt(s.quota.cpuCount),
        nodeMemory: BigInt(s.quota.nodeMemory),
        gpuCount: BigInt(s.quota.gpuCount),
        nodeStorage: BigInt(s.quota.nodeStorage),
        gpuType: String(s.quota.gpuType),
      },
      pricePerToken: BigInt(s.pricePerToken),
      occupied: Boolean(s.occupied),
      models: [...s.models].map(String),
      teeSignerAddress: getAddress(s.teeSignerAddress),
      teeSignerAcknowledged: Boolean(s.teeSignerAcknowledged),
    }));
  }

  /** The wallet's sub-account with `provider`; undefined when it has none. */
  async account(provider: string): Promise<FineTuningAccount | undefined> {
    if (!(await this.#read.getFunction("accountExists")(this.#user, provider))) return undefined;
    const a = await this.#read.getFunction("getAccount")(this.#user, provider);
    return {
      nonce: BigInt(a.nonce),
      balance: BigInt(a.balance),
      pendingRefund: BigInt(a.pendingRefund),
      acknowledged: Boolean(a.acknowledged),
      deliverables: [...a.deliverables].map(toDeliverable),
    };
  }

  /** The deliverable of task `id`; undefined when the provider has not added it. */
  async deliverable(provider: string, id: string): Promise<Deliverable | undefined> {
    try {
      return toDeliverable(await this.#read.getFunction("getDeliverable")(this.#user, provider, id));
    } catch (err) {
      if ((err as { code?: string }).code === "CALL_EXCEPTION") return undefined;
      throw err;
    }
  }

  /** The wallet's available ledger balance (neuron); undefined when it has no ledger. */
  async ledgerAvailable(): Promise<bigint | undefined> {
    try {
      return BigInt((await this.#ledger.getFunction("getLedger")(this.#user)).availableBalance);
    } catch (err) {
      if ((err as { code?: string }).code === "CALL_EXCEPTION") return undefined;
      throw err;
    }
  }

  /** Moves `amount` neuron from the ledger into the sub-account with `provider` (creating it, acknowledged). */
  async transferToProvider(provider: string, amount: bigint): Promise<string> {
    this.#serviceName ??= this.#ledger
      .getFunction("getServiceInfo")(this.address)
      .then((info: { fullName: string }) => String(info.fullName));
    const name = await this.#serviceName.catch((err: unknown) => {
      this.#serviceName = undefined;
      throw err;
    });
    return this.#send(this.#ledger, "transferFund", [provider, name, amount]);
  }

  acknowledgeTeeSigner(provider: string): Promise<string> {
    return this.#send(this.#write, "acknowledgeTEESigner", [provider, true]);
  }

  acknowledgeDeliverable(provider: string, id: string): Promise<string> {
    return this.#send(this.#write, "acknowledgeDeliverable", [provider, id]);
  }

  /**
   * The provider's `settleFees` for task `id`: the `FeesSettled` event (user and provider are indexed)
   * from `fromBlock` on, in windows of `windowBlocks` (public RPCs cap `eth_getLogs` ranges), then the
   * transaction's input. Undefined when the event is not found or the transaction is not a direct
   * `settleFees` call.
   */
  async findSettlement(
    provider: string,
    id: string,
    fromBlock: number,
    windowBlocks = 5000,
  ): Promise<Settlement | undefined> {
    const latest = await this.#chain.getBlockNumber();
    const filter = this.#read.filters.FeesSettled?.(this.#user, provider);
    if (!filter) return undefined;
    for (let start = Math.max(0, fromBlock); start <= latest; start += windowBlocks) {
      const end = Math.min(latest, start + windowBlocks - 1);
      const logs = await this.#read.queryFilter(filter, start, end);
      for (const log of logs) {
        const parsed = fineTuningInterface.parseLog(log);
        if (parsed?.args.deliverableId !== id) continue;
        const tx = await this.#chain.getTransaction(log.transactionHash);
        if (!tx || tx.to === null || getAddress(tx.to) !== this.address) return undefined;
        const call = fineTuningInterface.parseTransaction({ data: tx.data });
        if (call?.name !== "settleFees") return undefined;
        const v = call.args[0];
        return {
          txHash: log.transactionHash,
          id: String(v.id),
          encryptedSecret: String(v.encryptedSecret),
          modelRootHash: String(v.modelRootHash),
          nonce: BigInt(v.nonce),
          taskFee: BigInt(v.taskFee),
          user: getAddress(v.user),
          signature: String(v.signature),
        };
      }
    }
    return undefined;
  }

  async blockNumber(): Promise<number> {
    return this.#chain.getBlockNumber();
  }

  async #send(contract: Contract, name: string, args: unknown[]): Promise<string> {
    const overrides = this.#gasPrice === undefined ? {} : { gasPrice: this.#gasPrice };
    const tx = await contract.getFunction(name)(...args, overrides);
    // Bounded: a transaction that is never mined fails the job instead of holding it forever.
    const receipt = await tx.wait(1, 300_000);
    if (receipt?.status !== 1) throw new Error(`${name} transaction ${tx.hash} failed`);
    return tx.hash as string;
  }
}

function toDeliverable(d: Deliverable): Deliverable {
  return {
    id: String(d.id),
    modelRootHash: String(d.modelRootHash),
    encryptedSecret: String(d.encryptedSecret),
    acknowledged: Boolean(d.acknowledged),
    timestamp: BigInt(d.timestamp),
    settled: Boolean(d.settled),
  };
}
