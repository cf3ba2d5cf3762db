import type { Devnet } from "@chaoschain/zerog-devnet";
import type { Logger } from "pino";
import { type Bridge, createBridge } from "./bridge.js";
import type { BridgeConfig } from "./config.js";
import { PostgresJobStore } from "./jobs/postgres-store.js";
import { devnetPolicy, policyAttestationCheck, policyProofCheck } from "./verification.js";
import { ZeroGBackend } from "./zerog/backend.js";
import { defaultDatasetPolicy } from "./zerog/fine-tuning/dataset-source.js";
import { knownNetworks, type ZeroGNetwork } from "./zerog/sdk.js";

/** A running bridge, with the embedded devnet when it runs on one. */
export interface RunningBridge {
  bridge: Bridge;
  address: { host: string; port: number };
  /** Trust anchors of the embedded devnet (for verifying its proofs); undefined on 0G networks. */
  devnet: Devnet | undefined;
  stop(): Promise<void>;
}

/** The bridge's verification policy: the configured one, else the devnet's trust anchors, else none. */
function verificationPolicy(config: BridgeConfig, devnet: RunningBridge["devnet"]) {
  if (config.verification) return config.verification;
  if (devnet?.trust) return { policy: devnetPolicy(devnet.trust), collateral: devnet.trust.collateral };
  return undefined;
}

/**
 * Starts the bridge as configured: on the embedded devnet, or on a 0G network. A `devnet` passed in
 * (tests) is used instead of starting one, and is left running by `stop()`.
 */
export async function launch(
  config: BridgeConfig,
  logger: Logger,
  options: { devnet?: Devnet } = {},
): Promise<RunningBridge> {
  let devnet: RunningBridge["devnet"];
  let network: ZeroGNetwork;
  let walletKey: string;
  const ownsDevnet = config.network === "devnet" && !options.devnet;
  if (config.network === "devnet") {
    // Loaded here only: the devnet (ganache, simulators) is not needed against a real network.
    devnet = options.devnet ?? (await (await import("@chaoschain/zerog-devnet")).startDevnet());
    logger.info(
      { rpcUrl: devnet.rpcUrl, providers: devnet.providers.length, ms: Math.round(devnet.timings.totalMs) },
      "embedded 0G devnet started",
    );
    network = {
      name: "devnet",
      rpcUrl: devnet.rpcUrl,
      contracts: devnet.contracts,
      gasPrice: config.gasPrice ?? 1_000_000_000,
    };
    walletKey = devnet.userPrivateKey;
  } else {
    const known = config.network === "custom" ? undefined : knownNetworks[config.network];
    network = {
      name: config.network,
      rpcUrl: config.rpcUrl ?? known!.rpcUrl,
      contracts: config.contracts,
      gasPrice: config.gasPrice,
    };
    walletKey = config.walletKey!;
  }
  let store: PostgresJobStore | undefined;
  try {
    if (config.databaseUrl) {
      store = await PostgresJobStore.open({
        url: config.databaseUrl,
        onWaiting: (problem) => logger.warn({ code: problem.code }, `${problem.message}; waiting`),
      });
    }
    const verification = verificationPolicy(config, devnet);
    const backend = await ZeroGBackend.connect({
      network,
      walletKey,
      logger,
      checkProof: verification && policyProofCheck(verification.policy, verification.collateral),
      checkAttestation: verification && policyAttestationCheck(verification.policy, verification.collateral),
      requestTimeoutMs: config.providerTimeoutSeconds * 1000,
      fineTuning: {
        artifactsDir: config.fineTuning.artifactsDir,
        pollIntervalMs: config.fineTuning.pollIntervalMs,
        dataset: {
          ...defaultDatasetPolicy,
          datasetDir: config.fineTuning.datasetDir,
          httpsHosts: config.fineTuning.httpsHosts,
        },
      },
    });
    const bridge = createBridge({
      backend,
      logger,
      dbPath: config.dbPath,
      store,
      leaseMs: config.leaseSeconds * 1000,
      apiKey: config.apiKey,
      concurrency: config.concurrency,
      limits: {
        headerTimeoutMs: config.headerTimeoutSeconds * 1000,
        requestTimeoutMs: config.requestTimeoutSeconds * 1000,
        keepAliveTimeoutMs: config.keepAliveTimeoutSeconds * 1000,
        idleTimeoutMs: config.idleTimeoutSeconds * 1000,
        maxConnections: config.maxConnections,
      },
      corsOrigins: config.corsOrigins,
      allowedHosts: config.allowedHosts,
    });
    const address = await bridge.listen(config.host, config.port);
    return {
      bridge,
      address,
      devnet,
      async stop() {
        await bridge.close({ graceMs: config.shutdownGraceSeconds * 1000 });
        if (ownsDevnet) await devnet?.close();
      },
    };
  } catch (err) {
    await store?.close().catch(() => {});
    if (ownsDevnet) await devnet?.close();
    throw err;
  }
}
