import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ComputeService, Health, HealthCheckResponse_ServingStatus } from "@chaoschain/zerog-core";
import type { Devnet } from "@chaoschain/zerog-devnet";
import { type Client, createClient } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { grpcTransport } from "./clients.js";
import { tempDbPath, waitFor } from "./harness.js";

const bin = fileURLToPath(new URL("../bin/zerog-bridge.js", import.meta.url));

/** A bridge running as its own process (`zerog-bridge start`), as deployed. */
export interface BridgeProcess {
  child: ChildProcess;
  dbPath: string;
  port: number;
  /** `http://127.0.0.1:<port>` (`https://localhost:<port>` with TLS) */
  baseUrl: string;
  /** Everything the process wrote to stdout so far. */
  stdout(): string;
  /** Everything the process wrote to stderr so far (JSON log lines, startup errors). */
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** gRPC clients over one fresh HTTP/2 session each. */
  compute(apiKey?: string): Client<typeof ComputeService>;
  health(): Client<typeof Health>;
  /** Closes the clients' sessions and stops the process if it still runs (SIGTERM, SIGKILL after 5 s). */
  dispose(): Promise<void>;
}

export interface SpawnBridgeParameters {
  /** Extra `start` flags, e.g. `--header-timeout=1`. */
  args?: string[];
  env?: Record<string, string>;
  dbPath?: string;
  /** A Postgres job store (`ZEROG_DATABASE_URL`) instead of the SQLite file. */
  databaseUrl?: string;
  /** Resolve only once health answers SERVING (default); false resolves once the port is known. */
  waitServing?: boolean;
  /** Runs the process under `ulimit -n <n>`: at most this many file descriptors. */
  fileDescriptorLimit?: number;
  /** The bridge serves TLS (pass --tls-cert/--tls-key in `args`): clients trust `ca`, call `localhost`. */
  tls?: { ca: string | Buffer };
  /** The chain RPC the bridge uses, instead of the devnet's (a proxy in front of it). */
  rpcUrl?: string;
  /** Another build of the bridge's bin (an assembled production folder). */
  bin?: string;
  /** Node flags before the bin, e.g. the Docker image's (`--max-semi-space-size=…`). */
  nodeArgs?: string[];
}

/**
 * Spawns `zerog-bridge start` on the test's devnet as a "custom" 0G network (as against testnet, by
 * configuration: quotes verified with collateral from a PCCS, here the devnet's, under a policy, here
 * the devnet's test root, written to a file of its own), on a port chosen by the system.
 * Rejects with the process's stderr when it exits before listening.
 */
export async function spawnBridge(
  devnet: Devnet,
  params: SpawnBridgeParameters = {},
): Promise<BridgeProcess> {
  const dbPath = params.dbPath ?? tempDbPath();
  const policyFile = join(mkdtempSync(join(tmpdir(), "zerog-policy-")), "policy.json");
  writeFileSync(policyFile, JSON.stringify(devnet.policy));
  const limit = params.fileDescriptorLimit;
  const child = spawn(
    limit === undefined ? process.execPath : "/bin/sh",
    [
      ...(limit === undefined ? [] : ["-c", `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath]),
      ...(params.nodeArgs ?? []),
      params.bin ?? bin,
      "start",
      "--network=custom",
      `--rpc-url=${params.rpcUrl ?? devnet.rpcUrl}`,
      `--ledger=${devnet.contracts.ledger}`,
      `--inference=${devnet.contracts.inference}`,
      `--fine-tuning=${devnet.contracts.fineTuning}`,
      "--port=0",
      ...(params.databaseUrl ? [] : [`--db=${dbPath}`]),
      "--gas-price=1000000000",
      `--pccs-url=${devnet.pccs?.url}`,
      `--policy=${policyFile}`,
      "--no-demo",
      "--log-level=warn",
      ...(params.args ?? []),
    ],
    {
      env: {
        ...process.env,
        ZEROG_WALLET_KEY: devnet.userPrivateKey,
        ZEROG_API_KEY: "",
        ...(params.databaseUrl ? { ZEROG_DATABASE_URL: params.databaseUrl } : {}),
        ...params.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  let exit: { code: number | null } | undefined;
  void exited.then((e) => {
    exit = e;
  });
  // A bridge that does not come up (or stay up) while this waits for it is killed, not left running.
  const killOnFailure = (err: unknown): never => {
    if (!exit) child.kill("SIGKILL");
    throw err;
  };
  const listening = await waitFor(
    () => {
      if (exit) throw new BridgeExitedError(exit.code, stderr);
      return /serving ComputeService on [^\s]+:(\d+)/.exec(stdout);
    },
    { timeoutMs: 60_000, what: "the bridge to listen" },
  ).catch(killOnFailure);
  const port = Number(listening[1]);
  const baseUrl = params.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
  const sessions: Http2SessionManager[] = [];
  const transport = (apiKey?: string) => grpcTransport(baseUrl, sessions, apiKey, params.tls);
  const bridge: BridgeProcess = {
    child,
    dbPath,
    port,
    baseUrl,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    compute: (apiKey) => createClient(ComputeService, transport(apiKey)),
    health: () => createClient(Health, transport()),
    async dispose() {
      for (const s of sessions) s.abort();
      // A graceful stop first: no chain request may be in flight when the test's devnet closes.
      if (!exit) child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
  if (params.waitServing !== false) {
    const health = bridge.health();
    await waitFor(
      async () =>
        (await health.check({ service: "" }, { timeoutMs: 2000 }).catch(() => undefined))?.status ===
        HealthCheckResponse_ServingStatus.SERVING,
      { timeoutMs: 30_000, what: "health SERVING" },
    ).catch((err: unknown) => {
      for (const s of sessions) s.abort();
      return killOnFailure(err);
    });
  }
  return bridge;
}

/** The bridge process exited before it listened (it refused to start). */
export class BridgeExitedError extends Error {
  override name = "BridgeExitedError";
  constructor(
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`the bridge exited (code ${code}) before listening:\n${stderr}`);
  }
}

/** Runs `zerog-bridge start` expecting it to refuse to start; resolves with its exit code and stderr. */
export async function spawnBridgeExpectingFailure(
  devnet: Devnet,
  params: SpawnBridgeParameters = {},
): Promise<BridgeExitedError> {
  const bridge = await spawnBridge(devnet, { ...params, waitServing: false }).catch((err: unknown) => err);
  if (bridge instanceof BridgeExitedError) return bridge;
  if (bridge instanceof Error) throw bridge;
  await (bridge as BridgeProcess).dispose();
  throw new Error("the bridge started, but it should have refused to");
}
