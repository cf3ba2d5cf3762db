import type { Devnet } from "@chaoschain/zerog-devnet";
import type { Logger } from "pino";
import { type Bridge, createBridge } from "./bridge.js";
import type { BridgeConfig } from "./config.js";
import { PostgresJobStore } from "./jobs/postgres-store.js";
import { createBridgeMetrics } from "./metrics/bridge-metrics.js";
import { type BridgeVerification, bridgeVerification, writeDevnetPolicy } from "./verification.js";
import { ZeroGBackend } from "./zerog/backend.js";
import { defaultDatasetPolicy } from "./zerog/fine-tuning/dataset-source.js";
import { knownNetworks, readChainId, type ZeroGNetwork } from "./zerog/sdk.js";

/** A running bridge, with the embedded devnet when it runs on one. */
export interface RunningBridge {
  bridge: Bridge;
  address: { host: string; port: number };
  /** The embedded devnet (its trust anchors, PCCS, policy); undefined on 0G networks. */
  devnet: Devnet | undefined;
  /** How quotes and proofs are checked. */
  verification: BridgeVerification;
  /** Where the devnet's policy was written (next to the job database); undefined on 0G networks. */
  devnetPolicyPath: string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the bridge as configured: on the embedded devnet, or on a 0G network. A `devnet` passed in
 * (tests) is used instead of starting one, and is left running by `stop()`.
 */
export async function launch(
  config: BridgeConfig,
  logger: Logger,
  options: { devnet?: Devnet; onProgress?: (step: string) => void } = {},
): Promise<RunningBridge> {
  let devnet: RunningBridge["devnet"];
  let network: ZeroGNetwork;
  let walletKey: string;
  const ownsDevnet = config.network === "devnet" && !options.devnet;
  if (config.network === "devnet") {
    options.onProgress?.("starting the embedded 0G devnet");
    // Loaded here only: the devnet (ganache, simulators) is not needed against a real network, and is
    // not in a production install (the Docker image).
    const module = await import("@chaoschain/zerog-devnet").catch((err: unknown) => {
      throw new Error(
        "the embedded devnet (@chaoschain/zerog-devnet) is not installed here: run the bridge with --network testnet, mainnet or custom",
        { cause: err },
      );
    });
    devnet = options.devnet ?? (await module.startDevnet());
    options.onProgress?.("done");
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
    const verification = bridgeVerification(config.verification, devnet);
    const { checks } = verification.gate;
    if (config.verification.skipQuote)
      logger.warn(
        'UNSAFE: TEE quotes are not verified (--unsafe-skip-quote-verification); every result lists "quote" in bridge_checks.skipped',
      );
    else
      logger.info(
        {
          policy: verification.policySource,
          rootCaSha256: checks.rootCaSha256,
          pccsUrl: verification.pccsUrl,
        },
        "every provider's TEE quote is verified before it is trusted",
      );
    network.rpcLimits = { timeoutMs: config.rpcTimeoutSeconds * 1000, maxResponseBytes: config.rpcMaxBytes };
    // The chain every transaction is signed for, read once: health compares the RPC's chain with it.
    network.chainId = await readChainId(network.rpcUrl, network.rpcLimits);
    const metrics = createBridgeMetrics();
    // The bridge is made after the backend, which asks it for each job's trace.
    let bridge: Bridge | undefined;
    const backend = await ZeroGBackend.connect({
      network,
      walletKey,
      logger,
      gate: verification.gate,
      requestTimeoutMs: config.providerTimeoutSeconds * 1000,
      serviceTtlMs: config.registryRefreshSeconds * 1000,
      observe: {
        stage: (stage, seconds) => metrics.stageSeconds.observe({ stage }, seconds),
        providerError: (reason) => metrics.providerErrors.inc({ reason }),
      },
      traceparent: (jobId) => bridge?.traceparentOf(jobId),
      fineTuning: {
        artifactsDir: config.fineTuning.artifactsDir,
        pollIntervalMs: config.fineTuning.pollIntervalMs,
        maxRunMs: config.fineTuning.maxRunSeconds * 1000,
        downloadTimeoutMs: config.fineTuning.downloadTimeoutSeconds * 1000,
        dataset: {
          ...defaultDatasetPolicy,
          datasetDir: config.fineTuning.datasetDir,
          httpsHosts: config.fineTuning.httpsHosts,
        },
      },
    });
    bridge = createBridge({
      backend,
      logger,
      dbPath: config.dbPath,
      store,
      leaseMs: config.leaseSeconds * 1000,
      jobRetentionMs: config.jobRetentionSeconds * 1000,
      apiKey: config.apiKey,
      apiKeysFile: config.apiKeysFile,
      keyLimits: {
        rateLimit: config.rateLimit,
        rateBurst: config.rateBurst,
        maxJobsInFlight: config.maxJobsInFlight,
      },
      tls: config.tls,
      metrics,
      metricsAccess: config.metrics,
      chain: {
        rpcUrl: network.rpcUrl,
        chainId: network.chainId,
        checkIntervalMs: config.chainCheckSeconds * 1000,
        ledgerBalance: () => backend.ledgerBalance(),
      },
      concurrency: config.concurrency,
      limits: {
        headerTimeoutMs: config.headerTimeoutSeconds * 1000,
        requestTimeoutMs: config.requestTimeoutSeconds * 1000,
        keepAliveTimeoutMs: config.keepAliveTimeoutSeconds * 1000,
        idleTimeoutMs: config.idleTimeoutSeconds * 1000,
        maxConnections: config.maxConnections,
        readMaxBytes: config.maxRequestBytes,
      },
      corsOrigins: config.corsOrigins,
      allowedHosts: config.allowedHosts,
    });
    const running = bridge;
    let devnetPolicyPath: string | undefined;
    let address: { host: string; port: number };
    try {
      // After the store opened (a database folder it cannot use is refused there, naming it).
      devnetPolicyPath = devnet ? writeDevnetPolicy(config.dbPath, devnet) : undefined;
      address = await running.listen(config.host, config.port);
    } catch (err) {
      await running.close({ graceMs: 0 }).catch(() => {});
      throw err;
    }
    return {
      bridge: running,
      address,
      devnet,
      verification,
      devnetPolicyPath,
      async stop() {
        await running.close({ graceMs: config.shutdownGraceSeconds * 1000 });
        if (ownsDevnet) await devnet?.close();
      },
    };
  } catch (err) {
    await store?.close().catch(() => {});
    if (ownsDevnet) await devnet?.close();
    throw err;
  }
}
