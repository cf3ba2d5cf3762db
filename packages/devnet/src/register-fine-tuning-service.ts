import { Contract, isCallException, type Provider, Wallet } from "ethers";
import type { ZeroGContracts } from "./deploy-zerog-contracts.js";
import { DevnetError } from "./errors.js";
import { FineTuningContract } from "./fine-tuning-contract.js";
import { acknowledgeTeeSignerByOwner, PROVIDER_STAKE } from "./register-provider-service.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";
import type { Chain } from "./start-chain.js";

/** The machine a fine-tuning provider offers (`FineTuningServing` `Quota`). */
export type FineTuningQuota = {
  cpuCount: bigint;
  /** GB */
  nodeMemory: bigint;
  gpuCount: bigint;
  /** GB */
  nodeStorage: bigint;
  gpuType: string;
};

/** What the devnet's provider declares: one H200 like the 0G fine-tuning providers' configs. */
export const DEFAULT_FINE_TUNING_QUOTA: FineTuningQuota = {
  cpuCount: 8n,
  nodeMemory: 187n,
  gpuCount: 1n,
  nodeStorage: 900n,
  gpuType: "H200",
};

/** The on-chain fine-tuning service record (arguments of `addOrUpdateService`). */
export type FineTuningServiceRecord = {
  /** Base URL, no trailing slash. */
  url: string;
  quota: FineTuningQuota;
  /** Neuron per token per epoch. */
  pricePerToken: bigint;
  occupied: boolean;
  /** Model names. */
  models: readonly string[];
  teeSignerAddress: string;
};

export type RegisterFineTuningServiceParameters = FineTuningServiceRecord & {
  /** Private key of the provider's on-chain account (pays the stake, owns the service). */
  providerKey: string;
  /** Have the contract owner acknowledge the TEE signer so `listService()` shows it. Default true. */
  acknowledge?: boolean | undefined;
};

export type RegisterFineTuningServiceReturnType = { provider: string; created: boolean };

/**
 * Registers (or updates) a fine-tuning service with `FineTuningServing.addOrUpdateService(url, quota,
 * pricePerToken, occupied, models, teeSignerAddress)`, staking 100 0G on first registration, then has the
 * owner call `acknowledgeTEESignerByOwner(provider)`.
 *
 * @example
 * await registerFineTuningService(chain, contracts, {
 *   providerKey, url: sim.url, quota: DEFAULT_FINE_TUNING_QUOTA, pricePerToken: 1_000_000_000n,
 *   occupied: false, models: ["Qwen2.5-0.5B-Instruct"], teeSignerAddress: sim.teeAddress,
 * });
 */
export async function registerFineTuningService(
  chain: Chain,
  contracts: ZeroGContracts,
  params: RegisterFineTuningServiceParameters,
): Promise<RegisterFineTuningServiceReturnType> {
  const providerWallet = new Wallet(params.providerKey, chain.provider);
  const provider = providerWallet.address;
  let created = false;
  try {
    created = !(await fineTuningServiceExists(chain.provider, contracts.fineTuning, provider));
    const contract = new FineTuningContract(chain.provider, contracts.fineTuning, providerWallet);
    await contract.updateService(params, created ? PROVIDER_STAKE : 0n);
  } catch (cause) {
    throw new DevnetError(`Registering the fine-tuning service of ${provider} failed`, {
      code: "PROVIDER_REGISTRATION_FAILED",
      details: `url ${params.url}, models ${params.models.join(",")}`,
      metaMessages: ["The first registration needs 100 0G of stake in the provider account."],
      cause,
    });
  }
  if (params.acknowledge ?? true)
    await acknowledgeTeeSignerByOwner(chain, contracts, provider, "fine-tuning");
  return { provider, created };
}

/** Whether `provider` has a FineTuningServing service (`getService` reverts `ServiceNotExist` otherwise). */
export async function fineTuningServiceExists(
  runner: Provider,
  fineTuning: string,
  provider: string,
): Promise<boolean> {
  const contract = new Contract(fineTuning, loadZeroGArtifacts().fineTuning.abi, runner);
  try {
    await contract.getFunction("getService")(provider);
    return true;
  } catch (err) {
    if (isCallException(err)) return false;
    throw err;
  }
}
