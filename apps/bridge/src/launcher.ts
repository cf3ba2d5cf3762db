import type { Devnet } from "@chaoschain/zerog-devnet";
import type { Logger } from "pino";
import { type Bridge, createBridge } from "./bridge.js";
import type { BridgeConfig } from "./config.js";
import { createBridgeMetrics } from "./metrics/bridge-metrics.js";
import { devnetPolicy, policyProofCheck } from "./verification.js";
import { ZeroGBackend } from "./zerog/backend.js";
import { knownNetworks, type ZeroGNetwork } from "./zerog/sdk.js";

/** A running bridge, with the embedded devnet when it runs on one. */
export interface RunningBridge {
  bridge: Bridge;
  address: { host: string; port: number };
  /** Trust anchors of the embedded devnet (for verifying its proofs); undefined on 0G networks. */
  devnet: Devnet | undefined;
  stop(): Promise<void>;
}

/** The bridge-side proof check: the configured policy, else the devnet's trust anchors, else none. */
function proofCheck(config: BridgeConfig, devnet: RunningBridge["devnet"]) {
  if (config.verification)
    return policyProofCheck(config.verification.policy, config.verification.collateral);
  if (devnet?.trust) return policyProofCheck(devnetPolicy(devnet.trust), devnet.trust.collateral);
  return undefined;
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
  try {
    const metrics = createBridgeMetrics();
    // The bridge is made after the backend, which asks it for each job's trace.
    let bridge: Bridge | undefined;
    const backend = await ZeroGBackend.connect({
      network,
      walletKey,
      logger,
      checkProof: proofCheck(config, devnet),
      requestTimeoutMs: config.providerTimeoutSeconds * 1000,
      observe: {
        stage: (stage, seconds) => metrics.stageSeconds.observe({ stage }, seconds),
        providerError: (reason) => metrics.providerErrors.inc({ reason }),
      },
      traceparent: (jobId) => bridge?.traceparentOf(jobId),
    });
    bridge = createBridge({
      backend,
      logger,
      dbPath: config.dbPath,
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
    const address = await bridge.listen(config.host, config.port);
    const running = bridge;
    return {
      bridge: running,
      address,
      devnet,
      async stop() {
        await running.close({ graceMs: config.shutdownGraceSeconds * 1000 });
        if (ownsDevnet) await devnet?.close();
      },
    };
  } catch (err) {
    if (ownsDevnet) await devnet?.close();
    throw err;
  }
}
