import { describe, expect, it } from "vitest";
import { createVerificationCache, verifyProof } from "../src/index.js";
import { makeFixture, NOW, toProtoJson } from "./fixtures.js";

describe("verifyProof on a synthetic dstack provider (test root CA)", () => {
  const fx = makeFixture();
  it("accepts a valid ComputeResult and explains every step", async () => {
    const r = await verifyProof(fx.result, { now: NOW, collateral: fx.collateral, policy: fx.policy });
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.tcbStatus).toBe("UpToDate");
    expect(r.reportDataBinding).toBe("address-ascii");
    expect(r.composeHash).toBe(fx.att.composeHash);
    expect(r.output).toBe("The answer is 42.");
    expect(r.checks.map((c) => c.name)).toEqual([
      "response.hashes",
      "response.signature",
      "response.enclave_pubkey",
      "response.execution_hash",
      "result.output",
      "quote.format",
      "collateral.validity",
      "quote.signature_chain",
      "collateral.integrity",
      "quote.pck_revocation",
      "quote.qe_vendor_id",
      "quote.pce_id",
      "quote.tcb_status",
      "tee.report_data",
      "tee.measurements",
      "tee.event_log",
      "tee.compose_hash",
      "gpu.evidence",
      "freshness",
    ]);
  });
  it.each(["camel", "snake"] as const)("accepts the proto3 JSON form (%s case)", async (style) => {
    const json = JSON.parse(JSON.stringify(toProtoJson(fx.result, style)));
    const r = await verifyProof(json, { now: NOW, collateral: fx.collateral, policy: fx.policy });
    expect(r.reason).toBeUndefined();
    expect(r.ok).toBe(true);
  });
  it("accepts a bare proof (no output claim)", async () => {
    const r = await verifyProof(fx.result.proof, { now: NOW, collateral: fx.collateral, policy: fx.policy });
    expect(r.ok).toBe(true);
    expect(r.checks.some((c) => c.name === "result.output")).toBe(false);
  });
  it("accepts a v5 quote and the enc-pub-v1 binding", async () => {
    const enc = new Uint8Array(32).fill(7);
    const f = makeFixture({ attestation: { binding: "enc-pub-v1", encPubkey: enc, quote: { version: 5 } } });
    const tee = f.result.proof.tee as Record<string, unknown>;
    tee.reportDataBinding = 2;
    tee.encPubkey = enc;
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.reason).toBeUndefined();
    expect(r.reportDataBinding).toBe("enc-pub-v1");
    expect(r.quote?.version).toBe(5);
  });
  it("uses the cache for repeated proofs from one provider and re-checks time", async () => {
    const cache = createVerificationCache();
    const a = await verifyProof(fx.result, { now: NOW, collateral: fx.collateral, policy: fx.policy, cache });
    const b = await verifyProof(fx.result, {
      now: NOW + 60,
      collateral: fx.collateral,
      policy: fx.policy,
      cache,
    });
    expect(a.ok && b.ok).toBe(true);
    expect(a.checks.find((c) => c.name === "quote.signature_chain")?.details?.cached).toBe(false);
    expect(b.checks.find((c) => c.name === "quote.signature_chain")?.details?.cached).toBe(true);
    const late = await verifyProof(fx.result, {
      now: NOW + 40 * 86400,
      collateral: fx.collateral,
      policy: { ...fx.policy, maxAgeSeconds: 1e9 },
      cache,
    });
    expect(late.reason).toBe("collateral_expired");
  });
});
