import { Contract, isCallException, type Provider, TypedDataEncoder, type Wallet } from "ethers";
import { describeRevert } from "./describe-revert.js";
import type { FineTuningServiceRecord } from "./register-fine-tuning-service.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";

/** The part of a user's FineTuningServing sub-account the provider reads. */
export type FineTuningAccountView = {
  nonce: bigint;
  balance: bigint;
  pendingRefund: bigint;
  acknowledged: boolean;
};

/** A deliverable as `getDeliverable(user, provider, id)` returns it. */
export type DeliverableView = {
  id: string;
  modelRootHash: string;
  encryptedSecret: string;
  acknowledged: boolean;
  settled: boolean;
};

/** `FineTuningServing.settleFees` input (`VerifierInput`), before the TEE signature. */
export type FineTuningSettlement = {
  /** The task id (the deliverable id). */
  id: string;
  /** ECIES-encrypted model key when the user acknowledged, else `0x` (then the fee is cut by the penalty). */
  encryptedSecret: string;
  modelRootHash: string;
  /** The task nonce: must exceed the account's, which it then becomes. */
  nonce: bigint;
  taskFee: bigint;
  user: string;
};

/** EIP-712 types of the settlement ([sol] `FineTuningVerifier.sol` MESSAGE_TYPEHASH). */
export const FINE_TUNING_SETTLEMENT_TYPES = {
  VerifierMessage: [
    { name: "id", type: "string" },
    { name: "encryptedSecret", type: "bytes" },
    { name: "modelRootHash", type: "bytes" },
    { name: "nonce", type: "uint256" },
    { name: "taskFee", type: "uint256" },
    { name: "user", type: "address" },
  ],
};

/** EIP-712 domain of FineTuningServing: name "0G Fine-Tuning Serving", version "1". */
export function fineTuningSettlementDomain(chainId: number | bigint, fineTuning: string) {
  return { name: "0G Fine-Tuning Serving", version: "1", chainId, verifyingContract: fineTuning };
}

/**
 * The TEE signature `settleFees` verifies ([Go] `services/settlement.go` createEIP712Digest): raw
 * secp256k1 over the EIP-712 digest (no EIP-191 prefix), v = 27/28.
 *
 * @example
 * const signature = signFineTuningSettlement(teeKey, 31337, contracts.fineTuning, settlement);
 */
export function signFineTuningSettlement(
  teeWallet: Wallet,
  chainId: number | bigint,
  fineTuning: string,
  settlement: FineTuningSettlement,
): string {
  const digest = TypedDataEncoder.hash(
    fineTuningSettlementDomain(chainId, fineTuning),
    FINE_TUNING_SETTLEMENT_TYPES,
    settlement,
  );
  return teeWallet.signingKey.sign(digest).serialized;
}

/** Provider-side access to FineTuningServing: the reads and writes of the Go broker's `ProviderContract`. */
export class FineTuningContract {
  readonly #read: Contract;
  readonly #write: Contract;
  readonly #provider: string;
  #txs: Promise<unknown> = Promise.resolve();

  constructor(runner: Provider, address: string, providerWallet: Wallet) {
    const { abi } = loadZeroGArtifacts().fineTuning;
    this.#read = new Contract(address, abi, runner);
    this.#write = new Contract(address, abi, providerWallet);
    this.#provider = providerWallet.address;
  }

  /** The user's sub-account with this provider; undefined when it does not exist. */
  async account(user: string): Promise<FineTuningAccountView | undefined> {
    try {
      const a = await this.#read.getFunction("getAccount")(user, this.#provider);
      return {
        nonce: BigInt(a.nonce),
        balance: BigInt(a.balance),
        pendingRefund: BigInt(a.pendingRefund),
        acknowledged: Boolean(a.acknowledged),
      };
    } catch (err) {
      if (isCallException(err)) return undefined;
      throw err;
    }
  }

  /** Percentage of the fee charged when a delivery is settled without the user's acknowledgement. */
  async penaltyPercentage(): Promise<bigint> {
    return BigInt(await this.#read.getFunction("penaltyPercentage")());
  }

  async teeSignerAcknowledged(): Promise<boolean> {
    const s = await this.#read.getFunction("getService")(this.#provider);
    return Boolean(s.teeSignerAcknowledged);
  }

  /** undefined when no deliverable has this id. */
  async deliverable(user: string, id: string): Promise<DeliverableView | undefined> {
    try {
      const d = await this.#read.getFunction("getDeliverable")(user, this.#provider, id);
      return {
        id: String(d.id),
        modelRootHash: String(d.modelRootHash),
        encryptedSecret: String(d.encryptedSecret),
        acknowledged: Boolean(d.acknowledged),
        settled: Boolean(d.settled),
      };
    } catch (err) {
      if (isCallException(err)) return undefined;
      throw err;
    }
  }

  addDeliverable(user: string, id: string, modelRootHash: string): Promise<string> {
    return this.#send("addDeliverable", [user, id, modelRootHash]);
  }

  settleFees(input: FineTuningSettlement & { signature: string }): Promise<string> {
    return this.#send("settleFees", [input]);
  }

  /** `addOrUpdateService`; `stake` (100 0G) only on the first registration. */
  updateService(record: FineTuningServiceRecord, stake = 0n): Promise<string> {
    const { url, quota, pricePerToken, occupied, models, teeSignerAddress } = record;
    return this.#send(
      "addOrUpdateService",
      [url, quota, pricePerToken, occupied, [...models], teeSignerAddress],
      stake > 0n ? stake : undefined,
    );
  }

  /**
   * One transaction at a time from the provider's wallet, with an explicit gas limit (an estimate
   * against the pending block can be too low); a revert is reported with its decoded error.
   */
  #send(name: string, args: unknown[], value?: bigint): Promise<string> {
    const run = async () => {
      const method = this.#write.getFunction(name);
      const overrides = { gasLimit: 3_000_000n, ...(value === undefined ? {} : { value }) };
      try {
        const tx = await method(...args, overrides);
        await tx.wait();
        return tx.hash as string;
      } catch (cause) {
        throw new Error(`${name} reverted: ${await describeRevert(method, [...args, overrides])}`, { cause });
      }
    };
    const p = this.#txs.then(run, run);
    this.#txs = p.catch(() => undefined);
    return p;
  }
}
