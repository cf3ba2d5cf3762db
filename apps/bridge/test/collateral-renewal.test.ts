import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { verifyProof } from "@chaoschain/zerog-verifier";
import pino from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { launch } from "../src/launcher.js";
import { task, testConfig, waitFor } from "./harness.js";

// Collateral valid for 20 s around its issue: `nextUpdate` comes 10 s after it.
const validitySeconds = 20;

let devnet: Devnet;
beforeAll(async () => {
  devnet = await startDevnet({ pccs: { validitySeconds } });
});
afterAll(() => devnet?.close());

const nextUpdateOf = (tcbInfo: string | undefined) =>
  Date.parse((JSON.parse(tcbInfo ?? "{}") as { nextUpdate?: string }).nextUpdate ?? "") / 1000;

it("admits a provider afresh once its collateral's nextUpdate has passed: the next job carries Intel's next issue", async () => {
  const running = await launch(testConfig(), pino({ level: "silent" }), { devnet });
  const zerog = new ZeroGComputeAdapter({
    grpcUrl: `127.0.0.1:${running.address.port}`,
    verify: { policy: devnet.policy },
  });
  try {
    const pccs = devnet.pccs!;
    // A window that starts now, whatever the start-up took.
    pccs.reissue();
    const pinned = task({ provider_address: devnet.providers[0]!.address });
    const before = pccs.stats.tcb;
    const first = await zerog.result(await zerog.submit(pinned));
    const firstNextUpdate = nextUpdateOf(first.proof.tee?.collateral?.tcbInfo);
    expect(firstNextUpdate).toBeGreaterThan(Date.now() / 1000);
    expect(pccs.stats.tcb - before).toBe(1);

    pccs.reissue(firstNextUpdate);
    await waitFor(() => Date.now() / 1000 > firstNextUpdate + 1, {
      timeoutMs: (validitySeconds + 5) * 1000,
      what: "the first collateral's nextUpdate to pass",
    });
    // The first proof no longer verifies now: without renewal every later job would fail.
    const stale = await verifyProof(first.raw, {
      policy: devnet.policy,
      now: Math.floor(Date.now() / 1000),
    });
    expect(stale).toMatchObject({ ok: false, reason: "collateral_expired" });

    const second = await zerog.result(await zerog.submit(pinned));
    expect(second.verification).toMatchObject({ ok: true, collateral: "embedded" });
    expect(pccs.stats.tcb - before).toBe(2);
    expect(nextUpdateOf(second.proof.tee?.collateral?.tcbInfo)).toBeGreaterThan(firstNextUpdate);
  } finally {
    zerog.close();
    await running.stop();
  }
}, 60_000);
