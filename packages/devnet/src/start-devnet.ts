import { parseEther, toQuantity } from "ethers";
import { type DeployZeroGContractsReturnType, deployZeroGContracts } from "./deploy-zerog-contracts.js";
import { createDevnetPolicy, type DevnetPolicy } from "./devnet-policy.js";
import { DevnetError } from "./errors.js";
import type { FineTuningModel } from "./fine-tuning-models.js";
import type { FineTuningFaults, FineTuningTiming } from "./fine-tuning-pipeline.js";
import type { AttestationSource } from "./placeholder-attestation.js";
import { type FineTuningQuota, registerFineTuningService } from "./register-fine-tuning-service.js";
import {
  acknowledgeTeeSignerByOwner,
  registerProviderService,
  type Verifiability,
} from "./register-provider-service.js";
import { type Chain, startChain } from "./start-chain.js";
import {
  type FineTuningProviderSimulatorHandle,
  startFineTuningProviderSimulator,
} from "./start-fine-tuning-provider-simulator.js";
import { type PccsSimulatorHandle, startPccsSimulator } from "./start-pccs-simulator.js";
import {
  type ProviderFaults,
  type ProviderSimulatorHandle,
  startProviderSimulator,
} from "./start-provider-simulator.js";
import { createTeeSimAttestation, type DevnetTrust } from "./tee-sim-attestation.js";

/** One simulated provider of the devnet (one on-chain provider account each). */
export type DevnetProviderSpec = {
  /** The on-chain service model (also the default served model). */
  model: string;
  /** Extra model ids the simulator also serves. */
  extraModels?: string[] | undefined;
  /** Default "TeeML". */
  verifiability?: Verifiability | undefined;
  /** Neuron per prompt token. Default 1e9. */
  inputPrice?: bigint | undefined;
  /** Neuron per completion token. Default 2e9. */
  outputPrice?: bigint | undefined;
  faults?: ProviderFaults | undefined;
  /** Delay between streamed tokens (ms). Default 5. */
  tokenDelayMs?: number | undefined;
  /** Custom `additionalInfo` (object or JSON). Default `{"ProviderType":"decentralized"}`. */
  additionalInfo?: string | Record<string, unknown> | undefined;
};

/** One simulated fine-tuning provider of the devnet (its own on-chain provider account). */
export type DevnetFineTuningSpec = {
  /** Default: `Qwen2.5-0.5B-Instruct` (predefined) and `devnet-mini-lm` (customized). */
  models?: readonly FineTuningModel[] | undefined;
  /** Neuron per token per epoch. Default 1e9. */
  pricePerToken?: bigint | undefined;
  quota?: FineTuningQuota | undefined;
  timing?: Partial<FineTuningTiming> | undefined;
  faults?: FineTuningFaults | undefined;
  /** Datasets readable by 0x root hash without an upload (the devnet's stand-in for 0G Storage). */
  localDatasets?: Record<string, Uint8Array> | undefined;
};

export type StartDevnetParameters = {
  /** Default: two TeeML providers of `llama-3-8b` and one of `gpt-oss-120b`. */
  providers?: DevnetProviderSpec[] | undefined;
  /** RPC port on 127.0.0.1; 0 (default) picks one. */
  port?: number | undefined;
  /** Default 31337. */
  chainId?: number | undefined;
  /** Balance of the user wallet in 0G. Default 10000 (like every devnet account). */
  userFunds?: number | undefined;
  /**
   * `GET /v1/quote` body source for every provider. Default: `createTeeSimAttestation()` (test-PKI
   * TDX quotes + NRAS tokens; `devnet.trust` holds the matching anchors). `"placeholder"`: dstack-shaped
   * bodies with fake quote bytes (`devnet.trust` is undefined).
   */
  attestation?: AttestationSource | "tee-sim" | "placeholder" | undefined;
  /** Trust anchors matching a custom `attestation`, exposed as `devnet.trust`. */
  trust?: DevnetTrust | undefined;
  /** Providers settle automatically every N ms. Default: only on `provider.settle()`. */
  settleIntervalMs?: number | undefined;
  /** Fine-tuning providers. Default: one with the default models; `[]` for none. */
  fineTuningProviders?: DevnetFineTuningSpec[] | undefined;
  /**
   * Serve the test PKI's collateral over the Intel PCS/PCCS API (tee-sim attestations only). Default true.
   * `{ validitySeconds }` narrows the collateral's windows (default 30 days): `nextUpdate` is half of it
   * after the start.
   */
  pccs?: boolean | { validitySeconds?: number | undefined } | undefined;
};

export type Devnet = {
  rpcUrl: string;
  chainId: number;
  contracts: DeployZeroGContractsReturnType;
  /** A funded wallet for the bridge (the chain's `user` account). */
  userPrivateKey: string;
  userAddress: string;
  providers: ProviderSimulatorHandle[];
  /** Fine-tuning providers (FineTuningServing), registered and acknowledged like the inference ones. */
  fineTuningProviders: FineTuningProviderSimulatorHandle[];
  /** Trust anchors of the devnet's test PKI; undefined with placeholder attestations. */
  trust: DevnetTrust | undefined;
  /**
   * The PCCS simulator serving the test PKI's collateral (`pccs.url` is a PCCS base URL); undefined with
   * placeholder or custom attestations, or `pccs: false`.
   */
  pccs: PccsSimulatorHandle | undefined;
  /**
   * The complete verification policy of this devnet (test root, measurements, docker digests of every
   * provider, NRAS JWKS) as plain JSON; undefined without `trust`.
   */
  policy: DevnetPolicy | undefined;
  /** The underlying chain (accounts, ethers provider). */
  chain: Chain;
  /** Milliseconds spent in `startDevnet`, by phase. */
  timings: { chainMs: number; deployMs: number; providersMs: number; totalMs: number };
  close(): Promise<void>;
};

export type StartDevnetReturnType = Devnet;

/** Default providers: failover between two `llama-3-8b` providers is testable. */
export const DEFAULT_DEVNET_PROVIDERS: readonly DevnetProviderSpec[] = [
  { model: "llama-3-8b" },
  { model: "llama-3-8b" },
  { model: "gpt-oss-120b" },
];

/**
 * Starts the whole local 0G devnet: ganache, the real 0G contracts, and one provider simulator per
 * spec, each registered on chain (staked, TEE signer acknowledged by the owner).
 *
 * @example
 * const devnet = await startDevnet();
 * const wallet = new Wallet(devnet.userPrivateKey, createJsonRpcProvider(devnet.rpcUrl, devnet.chainId));
 * const broker = await createZGComputeNetworkBroker(
 *   wallet, devnet.contracts.ledger, devnet.contracts.inference, devnet.contracts.fineTuning, DEVNET_GAS_PRICE,
 * );
 * // ...
 * await devnet.close();
 */
export async function startDevnet(params: StartDevnetParameters = {}): Promise<Devnet> {
  const t0 = performance.now();
  const specs = params.providers ?? [...DEFAULT_DEVNET_PROVIDERS];
  const ftSpecs = params.fineTuningProviders ?? [{}];
  let attestation: AttestationSource | undefined;
  let trust: DevnetTrust | undefined = params.trust;
  let teeSim: ReturnType<typeof createTeeSimAttestation> | undefined;
  if (params.attestation === undefined || params.attestation === "tee-sim") {
    teeSim = createTeeSimAttestation();
    attestation = teeSim.source;
    trust = params.trust ?? teeSim.trust;
  } else if (params.attestation !== "placeholder") {
    attestation = params.attestation;
  }
  const chain = await startChain({
    port: params.port,
    chainId: params.chainId,
    providerAccounts: Math.max(8, specs.length + ftSpecs.length),
  });
  const providers: ProviderSimulatorHandle[] = [];
  const fineTuningProviders: FineTuningProviderSimulatorHandle[] = [];
  let pccs: PccsSimulatorHandle | undefined;
  const close = async () => {
    await Promise.allSettled(
      [...providers, ...fineTuningProviders, ...(pccs ? [pccs] : [])].map((p) => p.close()),
    );
    await chain.close();
  };
  try {
    const t1 = performance.now();
    if (params.userFunds !== undefined) {
      await chain.provider.send("evm_setAccountBalance", [
        chain.accounts.user.address,
        toQuantity(parseEther(String(params.userFunds))),
      ]);
    }
    const contracts = await deployZeroGContracts(chain);
    const t2 = performance.now();
    const started = await Promise.all(
      specs.map((spec, i) => {
        const account = chain.accounts.providers[i];
        if (!account) throw new DevnetError("Not enough provider accounts", { code: "CHAIN_START_FAILED" });
        return startProviderSimulator({
          models: [spec.model, ...(spec.extraModels ?? [])],
          providerKey: account.privateKey,
          inputPrice: spec.inputPrice,
          outputPrice: spec.outputPrice,
          chain: { provider: chain.provider, chainId: chain.chainId, inference: contracts.inference },
          tokenDelayMs: spec.tokenDelayMs,
          attestation,
          faults: spec.faults,
          settleIntervalMs: params.settleIntervalMs,
        });
      }),
    );
    providers.push(...started);
    const ftAccounts = chain.accounts.providers.slice(specs.length);
    fineTuningProviders.push(
      ...(await Promise.all(
        ftSpecs.map((spec, i) =>
          startFineTuningProviderSimulator({
            chain: { provider: chain.provider, chainId: chain.chainId, fineTuning: contracts.fineTuning },
            providerKey: ftAccounts[i]?.privateKey ?? "",
            models: spec.models,
            pricePerToken: spec.pricePerToken,
            quota: spec.quota,
            attestation,
            timing: spec.timing,
            faults: spec.faults,
            localDatasets: spec.localDatasets,
          }),
        ),
      )),
    );
    // Registrations come from distinct provider accounts (parallel); the owner's acknowledgements
    // all come from the deployer (sequential, to keep its nonces in order).
    await Promise.all([
      ...fineTuningProviders.map((sim, i) =>
        registerFineTuningService(chain, contracts, {
          providerKey: ftAccounts[i]?.privateKey ?? "",
          ...sim.service,
          acknowledge: false,
        }),
      ),
      ...started.map((sim, i) =>
        registerProviderService(chain, contracts, {
          providerKey: chain.accounts.providers[i]?.privateKey ?? "",
          url: sim.url,
          model: specs[i]?.model ?? sim.models[0] ?? "",
          inputPrice: sim.inputPrice,
          outputPrice: sim.outputPrice,
          teeSignerAddress: sim.teeAddress,
          verifiability: specs[i]?.verifiability,
          additionalInfo: specs[i]?.additionalInfo,
          acknowledge: false,
        }),
      ),
    ]);
    for (const sim of started) await acknowledgeTeeSignerByOwner(chain, contracts, sim.address);
    for (const sim of fineTuningProviders)
      await acknowledgeTeeSignerByOwner(chain, contracts, sim.address, "fine-tuning");
    if (teeSim && !params.trust && (params.pccs ?? true))
      pccs = await startPccsSimulator({
        pki: teeSim.pki,
        now: teeSim.now,
        validitySeconds: typeof params.pccs === "object" ? params.pccs.validitySeconds : undefined,
      });
    const policy =
      trust && attestation
        ? createDevnetPolicy({
            trust,
            attestations: await Promise.all(
              [...started, ...fineTuningProviders].map((sim) =>
                (attestation as AttestationSource)(sim.teeAddress, {
                  models: sim.models.map((m) => (typeof m === "string" ? m : m.name)),
                  appCompose: sim.appCompose,
                }),
              ),
            ),
          })
        : undefined;
    const t3 = performance.now();
    return {
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      contracts,
      userPrivateKey: chain.accounts.user.privateKey,
      userAddress: chain.accounts.user.address,
      providers,
      fineTuningProviders,
      trust,
      pccs,
      policy,
      chain,
      timings: { chainMs: t1 - t0, deployMs: t2 - t1, providersMs: t3 - t2, totalMs: t3 - t0 },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
