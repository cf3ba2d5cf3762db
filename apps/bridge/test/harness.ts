import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
import { ComputeService, type ComputeTask, Health, parseTask } from "@chaoschain/zerog-core";
import { type Devnet, type StartDevnetParameters, startDevnet } from "@chaoschain/zerog-devnet";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport, type Http2SessionManager } from "@connectrpc/connect-node";
import { parseEther, Wallet } from "ethers";
import pino, { type Logger } from "pino";
import type { BridgeConfig } from "../src/config.js";
import { launch, type RunningBridge } from "../src/launcher.js";
import { grpcTransport } from "./clients.js";

export const demoTask = {
  task_type: "inference",
  model: "llama-3-8b",
  inputs: { prompt: "What is blockchain?" },
  verification: "tee-ml",
};

/** The demo task with some fields replaced, as a validated `ComputeTask`. */
export function task(overrides: Record<string, unknown> = {}): ComputeTask {
  const parsed = parseTask({ ...demoTask, ...overrides });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.violations));
  return parsed.task;
}

export function tempDbPath(): string {
  return join(mkdtempSync(join(tmpdir(), "zerog-bridge-")), "jobs.db");
}

export function testConfig(overrides: Partial<BridgeConfig> = {}): BridgeConfig {
  return {
    host: "127.0.0.1",
    port: 0,
    apiKey: undefined,
    dbPath: tempDbPath(),
    databaseUrl: undefined,
    leaseSeconds: 30,
    jobRetentionSeconds: 30 * 86_400,
    concurrency: 8,
    providerTimeoutSeconds: 60,
    network: "devnet",
    rpcUrl: undefined,
    rpcTimeoutSeconds: 30,
    rpcMaxBytes: 32 * 1024 * 1024,
    walletKey: undefined,
    contracts: undefined,
    gasPrice: undefined,
    verification: { policy: undefined, policyFile: undefined, pccsUrl: undefined, skipQuote: false },
    demo: false,
    logLevel: "silent",
    headerTimeoutSeconds: 30,
    requestTimeoutSeconds: 60,
    keepAliveTimeoutSeconds: 5,
    idleTimeoutSeconds: 300,
    maxConnections: 4096,
    shutdownGraceSeconds: 10,
    corsOrigins: undefined,
    allowedHosts: [],
    tls: undefined,
    apiKeysFile: undefined,
    rateLimit: undefined,
    rateBurst: undefined,
    maxJobsInFlight: undefined,
    maxRequestBytes: 8 * 1024 * 1024,
    metrics: "auth",
    chainCheckSeconds: 15,
    registryRefreshSeconds: 60,
    logFormat: "json",
    fineTuning: {
      artifactsDir: join(mkdtempSync(join(tmpdir(), "zerog-artifacts-")), "artifacts"),
      datasetDir: mkdtempSync(join(tmpdir(), "zerog-datasets-")),
      httpsHosts: [],
      pollIntervalMs: 25,
      maxRunSeconds: 86_400,
      downloadTimeoutSeconds: 7200,
    },
    ...overrides,
  };
}

export interface TestBridge {
  devnet: Devnet;
  running: RunningBridge;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** `127.0.0.1:<port>` as ZEROG_GRPC_URL takes it. */
  grpcUrl: string;
  client(apiKey?: string): Client<typeof ComputeService>;
  health(): Client<typeof Health>;
  adapter(apiKey?: string): ZeroGComputeAdapter;
  close(): Promise<void>;
}

/** A devnet plus a bridge on it, listening on a random 127.0.0.1 port. */
export async function startTestBridge(
  options: { devnet?: StartDevnetParameters; bridge?: Partial<BridgeConfig>; logger?: Logger } = {},
): Promise<TestBridge> {
  const devnet = await startDevnet(options.devnet ?? {});
  const config = testConfig(options.bridge);
  const running = await launch(config, options.logger ?? pino({ level: "silent" }), { devnet });
  const baseUrl = `http://127.0.0.1:${running.address.port}`;
  const sessions: Http2SessionManager[] = [];
  const adapters: ZeroGComputeAdapter[] = [];
  const transport = (apiKey?: string) => grpcTransport(baseUrl, sessions, apiKey);
  return {
    devnet,
    running,
    baseUrl,
    grpcUrl: `127.0.0.1:${running.address.port}`,
    client: (apiKey) => createClient(ComputeService, transport(apiKey)),
    health: () => createClient(Health, transport()),
    adapter(apiKey) {
      const adapter = new ZeroGComputeAdapter({
        grpcUrl: `127.0.0.1:${running.address.port}`,
        apiKey,
        timeoutSeconds: 60,
        verify: { policy: running.verification.policy },
      });
      adapters.push(adapter);
      return adapter;
    },
    async close() {
      for (const a of adapters) a.close();
      for (const s of sessions) s.abort();
      await running.stop();
      await devnet.close();
    },
  };
}

/** A pino logger at `level` whose lines (JSON) are kept in `lines`, to look for what was logged. */
export function capturedLogger(level = "trace"): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}

/**
 * A bridge of its own wallet (funded by the devnet's deployer) on a running devnet, configured as for
 * 0G testnet (`--network custom`): the devnet's PCCS stands in for Intel's PCS and its policy (test root)
 * for the default Intel one. `overrides` replace any of it.
 */
export async function startCustomBridge(
  devnet: Devnet,
  overrides: Partial<BridgeConfig> = {},
  fundEther = "100",
): Promise<{ running: RunningBridge; client: Client<typeof ComputeService>; wallet: Wallet }> {
  const wallet = new Wallet(Wallet.createRandom().privateKey);
  if (fundEther !== "0") {
    const deployer = new Wallet(devnet.chain.accounts.deployer.privateKey, devnet.chain.provider);
    await (await deployer.sendTransaction({ to: wallet.address, value: parseEther(fundEther) })).wait();
  }
  const running = await launch(
    testConfig({
      network: "custom",
      rpcUrl: devnet.rpcUrl,
      contracts: devnet.contracts,
      walletKey: wallet.privateKey,
      gasPrice: 1_000_000_000,
      verification: {
        policy: devnet.policy,
        policyFile: undefined,
        pccsUrl: devnet.pccs?.url,
        skipQuote: false,
      },
      ...overrides,
    }),
    pino({ level: "silent" }),
  );
  const client = createClient(
    ComputeService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${running.address.port}` }),
  );
  return { running, client, wallet };
}

/**
 * Polls `condition` every `intervalMs` until it returns a truthy value (returned), or throws after
 * `timeoutMs`. A condition that throws ends the wait with its error.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 20, what = "a condition" } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
