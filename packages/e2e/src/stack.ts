import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type DevnetProviderSpec, type DevnetTrust, startDevnet } from "@chaoschain/zerog-devnet";
import type { PolicyInput } from "@chaoschain/zerog-verifier";

/** Where the workspace's built bins are (this package depends on them). */
export const bins = {
  bridge: fileURLToPath(
    new URL("../node_modules/@chaoschain/zerog-bridge/bin/zerog-bridge.js", import.meta.url),
  ),
  zerog: fileURLToPath(new URL("../node_modules/@chaoschain/zerog-adapter/bin/zerog.js", import.meta.url)),
  verify: fileURLToPath(
    new URL("../node_modules/@chaoschain/zerog-verifier/bin/zerog-verify.js", import.meta.url),
  ),
};

/**
 * Runs a command to its end without blocking this process (whose event loop serves the devnet),
 * with stdout and stderr apart.
 */
export function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Stack {
  /** `127.0.0.1:<port>`, as ZEROG_GRPC_URL takes it. */
  grpcUrl: string;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  trust: DevnetTrust;
  /** The devnet's verifier policy (its synthetic test root, measurements, workloads, NRAS key). */
  policy: PolicyInput;
  /** The file holding `policy` (as `npm start` writes `.zerog/devnet-policy.json`), for CLIs. */
  files: { dir: string; policy: string };
  /** The devnet's PCCS simulator (Intel's PCS stand-in) the bridge fetches collateral from. */
  pccsUrl: string;
  /** Everything the bridge printed on stderr (JSON log lines). */
  log(): string;
  close(): Promise<void>;
}

/**
 * A devnet (ganache with the real 0G contracts and provider simulators) in this process, and a
 * real `zerog-bridge` process on it, configured as for a real 0G network (`--network custom`
 * with the devnet's addresses, wallet, its PCCS for Intel's PCS and its policy for Intel's root):
 * the code path a user runs, over real sockets. Like a user of the devnet, this process then has
 * `ZEROG_VERIFY_POLICY` set to the devnet's policy file, so adapters and CLIs verify under it.
 */
export async function startStack(
  options: { providers?: DevnetProviderSpec[]; bridgeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<Stack> {
  const devnet = await startDevnet(options.providers ? { providers: options.providers } : {});
  const trust = devnet.trust!;
  const dir = mkdtempSync(join(tmpdir(), "zerog-e2e-"));
  const files = { dir, policy: join(dir, "devnet-policy.json") };
  const policy = devnet.policy as PolicyInput;
  writeFileSync(files.policy, JSON.stringify(policy));
  process.env.ZEROG_VERIFY_POLICY = files.policy;
  writeFileSync(join(dir, "wallet.key"), devnet.userPrivateKey, { mode: 0o600 });
  let child: ChildProcess | undefined;
  let stderr = "";
  const close = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child?.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await devnet.close();
    if (process.env.ZEROG_VERIFY_POLICY === files.policy) delete process.env.ZEROG_VERIFY_POLICY;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    child = spawn(
      process.execPath,
      [
        bins.bridge,
        "start",
        "--network",
        "custom",
        "--rpc-url",
        devnet.rpcUrl,
        "--ledger",
        devnet.contracts.ledger,
        "--inference",
        devnet.contracts.inference,
        "--fine-tuning",
        devnet.contracts.fineTuning,
        "--wallet-key-file",
        join(dir, "wallet.key"),
        "--gas-price",
        "1000000000",
        "--policy",
        files.policy,
        "--pccs-url",
        devnet.pccs!.url,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--db",
        join(dir, "jobs.db"),
        "--no-demo",
        "--log-level",
        "warn",
        ...(options.bridgeArgs ?? []),
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ZEROG_API_KEY: "", ...options.env } },
    );
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const address = await new Promise<string>((resolve, reject) => {
      let stdout = "";
      const timer = setTimeout(
        () => reject(new Error(`the bridge did not start within 60 s:\n${stderr}`)),
        60_000,
      );
      child?.stdout?.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = /serving ComputeService on (\S+?:\d+)/.exec(stdout);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child?.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the bridge exited with ${code} before serving:\n${stderr}`));
      });
    });
    return {
      grpcUrl: address,
      baseUrl: `http://${address}`,
      trust,
      policy,
      files,
      pccsUrl: devnet.pccs!.url,
      log: () => stderr,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
