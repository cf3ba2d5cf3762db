import { Contract, parseEther, Wallet } from "ethers";
import type { ZeroGContracts } from "./deploy-zerog-contracts.js";
import { describeRevert } from "./describe-revert.js";
import { DevnetError } from "./errors.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";
import type { Chain } from "./start-chain.js";

/** The `verifiability` values the SDK accepts (`read-only-model.js` isVerifiability). */
export type Verifiability = "TeeML" | "ZKML" | "OpML";

/** `serviceType` values the SDK knows (`base.js` createExtractor). */
export type ServiceType = "chatbot" | "text-to-image" | "image-editing" | "speech-to-text";

export type RegisterProviderServiceParameters = {
  /** Private key of the provider's on-chain account (pays the stake, owns the service). */
  providerKey: string;
  /** Base URL of the provider, no `/v1/proxy` and no trailing slash. */
  url: string;
  model: string;
  /** Neuron per input token. Default 1e9 (1 gwei). */
  inputPrice?: bigint | undefined;
  /** Neuron per output token. Default 2e9. */
  outputPrice?: bigint | undefined;
  teeSignerAddress: string;
  /** Default "TeeML". */
  verifiability?: Verifiability | undefined;
  /** Default "chatbot". */
  serviceType?: ServiceType | undefined;
  /** JSON string or object; must be non-empty JSON or the SDK's processResponse returns false. Default `{"ProviderType":"decentralized"}`. */
  additionalInfo?: string | Record<string, unknown> | undefined;
  /** Have the contract owner acknowledge the TEE signer so `listService()` shows it. Default true. */
  acknowledge?: boolean | undefined;
};

export type RegisterProviderServiceReturnType = {
  /** The provider's on-chain address (the service key). */
  provider: string;
  /** True when this call created the service (and staked). */
  created: boolean;
};

/** `MIN_PROVIDER_STAKE` of InferenceServing. */
export const PROVIDER_STAKE = parseEther("100");

/**
 * Registers (or updates) an inference service with `InferenceServing.addOrUpdateService`, staking
 * 100 0G on first registration, then has the owner (the chain's deployer) call
 * `acknowledgeTEESignerByOwner(provider)`.
 *
 * The contract keys services by provider address: one service per provider account.
 *
 * @example
 * await registerProviderService(chain, contracts, {
 *   providerKey: chain.accounts.providers[0].privateKey,
 *   url: sim.url, model: "llama-3-8b", teeSignerAddress: sim.teeAddress,
 * });
 */
export async function registerProviderService(
  chain: Chain,
  contracts: ZeroGContracts,
  params: RegisterProviderServiceParameters,
): Promise<RegisterProviderServiceReturnType> {
  const { abi } = loadZeroGArtifacts().inference;
  const providerWallet = new Wallet(params.providerKey, chain.provider);
  const provider = providerWallet.address;
  const additionalInfo =
    typeof params.additionalInfo === "string"
      ? params.additionalInfo
      : JSON.stringify(params.additionalInfo ?? { ProviderType: "decentralized" });
  const asProvider = new Contract(contracts.inference, abi, providerWallet);
  const service = {
    serviceType: params.serviceType ?? "chatbot",
    url: params.url,
    model: params.model,
    verifiability: params.verifiability ?? "TeeML",
    inputPrice: params.inputPrice ?? 1_000_000_000n,
    outputPrice: params.outputPrice ?? 2_000_000_000n,
    additionalInfo,
    teeSignerAddress: params.teeSignerAddress,
  };
  let exists = false;
  // An explicit gas limit: ganache estimates an update against the current block's timestamp, where
  // rewriting `updatedAt` may be a no-op; mined a second later it is not, and the estimate runs out.
  const overrides = () => ({ gasLimit: 3_000_000n, ...(exists ? {} : { value: PROVIDER_STAKE }) });
  try {
    exists = (await asProvider.getFunction("serviceExists")(provider)) as boolean;
    const tx = await asProvider.getFunction("addOrUpdateService")(service, overrides());
    await tx.wait();
    if (params.acknowledge ?? true) await acknowledgeTeeSignerByOwner(chain, contracts, provider);
    return { provider, created: !exists };
  } catch (cause) {
    const revert = await describeRevert(asProvider.getFunction("addOrUpdateService"), [service, overrides()]);
    throw new DevnetError(`Registering the provider service of ${provider} failed`, {
      code: "PROVIDER_REGISTRATION_FAILED",
      details: `model ${params.model}, url ${params.url}, revert: ${revert}`,
      metaMessages: ["The first registration needs 100 0G of stake in the provider account."],
      cause,
    });
  }
}

/**
 * The contract owner's (the chain's deployer) `acknowledgeTEESignerByOwner(provider)` on
 * InferenceServing (default) or FineTuningServing: afterwards `getService(provider).teeSignerAcknowledged`
 * is true and the SDK lists the service.
 *
 * @example
 * await acknowledgeTeeSignerByOwner(chain, contracts, providerAddress);
 * await acknowledgeTeeSignerByOwner(chain, contracts, fineTuningProvider, "fine-tuning");
 */
export async function acknowledgeTeeSignerByOwner(
  chain: Chain,
  contracts: ZeroGContracts,
  provider: string,
  service: "inference" | "fine-tuning" = "inference",
): Promise<void> {
  const owner = new Wallet(chain.accounts.deployer.privateKey, chain.provider);
  const artifacts = loadZeroGArtifacts();
  const asOwner =
    service === "inference"
      ? new Contract(contracts.inference, artifacts.inference.abi, owner)
      : new Contract(contracts.fineTuning, artifacts.fineTuning.abi, owner);
  try {
    await (await asOwner.getFunction("acknowledgeTEESignerByOwner")(provider)).wait();
  } catch (cause) {
    throw new DevnetError(`acknowledgeTEESignerByOwner(${provider}) on ${service} failed`, {
      code: "PROVIDER_REGISTRATION_FAILED",
      metaMessages: [
        "Only the owner passed to the serving contract's initialize (the deployer) may call it.",
      ],
      cause,
    });
  }
}
