import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { HealthCheckResponse_ServingStatus } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";
import { parseExposition, sample } from "./prometheus.js";
import { type SwitchableRpc, switchableRpc } from "./rpc-proxy.js";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../bin/zerog-bridge.js", import.meta.url));
/** Stands for an RPC provider's API key in its URL path: it must appear nowhere. */
const secretPath = "/v3/rpc-secret-5e1f0c2a9b";

let devnet: Devnet;
let rpc: SwitchableRpc;
let bridge: BridgeProcess;
beforeAll(async () => {
  devnet = await startDevnet();
  rpc = await switchableRpc(devnet.rpcUrl, { path: secretPath });
  bridge = await spawnBridge(devnet, {
    rpcUrl: rpc.url,
    args: ["--chain-check-interval=1", "--metrics=public", "--log-level=info"],
  });
});
afterAll(async () => {
  await bridge?.dispose();
  await rpc?.stop().catch(() => {});
  await devnet?.close();
});

const status = async () => (await bridge.health().check({}, { timeoutMs: 2000 })).status;
const healthCli = () =>
  run(process.execPath, [bin, "health", `--url=${bridge.baseUrl}`]).then(
    (r) => ({ code: 0, out: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: e.stdout }),
  );

describe("health follows the chain RPC (a periodic eth_blockNumber)", () => {
  it("is NOT_SERVING, with the reason, while the RPC is down, and SERVING again once it answers", async () => {
    expect(await status()).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect(await healthCli()).toEqual({ code: 0, out: "SERVING\n" });

    await rpc.stop();
    await waitFor(async () => (await status()) === HealthCheckResponse_ServingStatus.NOT_SERVING, {
      what: "NOT_SERVING",
    });
    const down = await healthCli();
    expect(down.code).toBe(1);
    expect(down.out).toMatch(
      /^NOT_SERVING: the 0G chain RPC at http:\/\/127\.0\.0\.1:\d+ is not answering \(ECONNREFUSED\)\n$/,
    );
    const metrics = parseExposition(await (await fetch(`${bridge.baseUrl}/metrics`)).text());
    expect(sample(metrics, "zerog_health_serving", { component: "chain" })).toBe(0);
    expect(sample(metrics, "zerog_health_serving", { component: "store" })).toBe(1);

    await rpc.start();
    await waitFor(async () => (await status()) === HealthCheckResponse_ServingStatus.SERVING, {
      what: "SERVING again",
    });
    expect(await healthCli()).toEqual({ code: 0, out: "SERVING\n" });
    expect(bridge.stderr()).toMatch(/chain RPC down: NOT_SERVING until it answers/);
    expect(bridge.stderr()).toMatch(/chain RPC answering again; SERVING/);
    // The RPC URL's path (an API key, with hosted RPCs) is never shown.
    expect(bridge.stderr()).not.toContain("rpc-secret");
    expect(down.out).not.toContain("rpc-secret");
  });
});
