import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import {
  type Collateral,
  createCollateralSource,
  createVerificationCache,
  parseQuote,
  verifyQuote,
} from "../src/index.js";

const require = createRequire(import.meta.url);
const dcap = require("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");

const dir = new URL("./vectors/dcap/", import.meta.url);
const tdxQuote = new Uint8Array(readFileSync(new URL("tdx_quote", dir)));
const tdxCollateral = JSON.parse(
  readFileSync(new URL("tdx_quote_collateral.json", dir), "utf8"),
) as Collateral;
const sgxQuote = new Uint8Array(readFileSync(new URL("sgx_quote", dir)));
const sgxCollateral = JSON.parse(
  readFileSync(new URL("sgx_quote_collateral.json", dir), "utf8"),
) as Collateral;
const TDX_NOW = 1751624191;
const SGX_NOW = 1751624924;

function flip(bytes: Uint8Array, offset: number): Uint8Array {
  const out = bytes.slice();
  out[offset] = (out[offset] as number) ^ 0x01;
  return out;
}

describe("real Intel TDX vector (Intel SGX Root CA)", () => {
  it("is UpToDate at the vector's now, like raw dcap-qvl", async () => {
    const r = await verifyQuote(tdxQuote, tdxCollateral, { now: TDX_NOW });
    expect(r.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(r).toMatchObject({ ok: true, tcbStatus: "UpToDate", advisoryIds: [] });
    const raw = dcap.verify(tdxQuote, tdxCollateral as never, TDX_NOW);
    expect(raw.status).toBe(r.tcbStatus);
    expect(r.quote?.td?.mrtd).toBe(
      "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
    );
    expect(r.quote?.reportData.slice(0, 16)).toBe("9a9d48e7f6799642");
    expect(r.quote?.fmspc).toBe("B0C06F000000");
  });
  it("checks the TDX module identity against the TCB info (TDX_01), as Intel's QVL does", async () => {
    const r = await verifyQuote(tdxQuote, tdxCollateral, { now: TDX_NOW });
    expect(r.checks.find((c) => c.name === "quote.tdx_module")).toMatchObject({
      status: "pass",
      details: { identity: "TDX_01", moduleStatus: "UpToDate" },
    });
  });
  it("tolerates the zero padding after the auth data, refuses anything else there", async () => {
    expect(tdxQuote.length - parseQuote(tdxQuote).signedLength).toBeGreaterThan(4300);
    const r = await verifyQuote(flip(tdxQuote, tdxQuote.length - 1), tdxCollateral, { now: TDX_NOW });
    expect(r.reason).toBe("quote_malformed");
  });
  it("reports FMSPC and PCE id only from a verified PCK leaf", async () => {
    const bad = await verifyQuote(flip(tdxQuote, 640), tdxCollateral, { now: TDX_NOW });
    expect(bad.quote?.fmspc).toBeUndefined();
    expect(bad.checks.find((c) => c.name === "quote.pce_id")?.status).toBe("skipped");
  });
  it("accepts hex text with 0x", async () => {
    const r = await verifyQuote(`0x${Buffer.from(tdxQuote).toString("hex")}`, JSON.stringify(tdxCollateral), {
      now: TDX_NOW,
    });
    expect(r.ok).toBe(true);
  });
  it("parses fields at the documented offsets", () => {
    const q = parseQuote(tdxQuote);
    expect(q).toMatchObject({
      version: 4,
      teeType: "tdx",
      qeVendorId: "939A7233F79C4CA9940A0DB3957F0607",
      signedLength: 632,
    });
    expect(q.td?.rtmr0.slice(0, 8)).toBe("44c0197b");
    expect(q.pckChain.length).toBe(3);
  });
  it.each([
    [1750329146, "collateral_not_yet_valid"],
    [1752920164, "collateral_expired"],
  ] as const)("at %i fails with %s", async (now, reason) => {
    const r = await verifyQuote(tdxQuote, tdxCollateral, { now });
    expect(r.reason).toBe(reason);
  });
  it("enforces the PCK CRL nextUpdate, which dcap-qvl 0.3.9 ignores", async () => {
    const now = 1752919235 + 60;
    expect(dcap.verify(tdxQuote, tdxCollateral as never, now).status).toBe("UpToDate");
    const r = await verifyQuote(tdxQuote, tdxCollateral, { now });
    expect(r.reason).toBe("crl_expired");
  });
  it("checks the PCK CRL signature, which dcap-qvl 0.3.9 ignores", async () => {
    const crl = tdxCollateral.pck_crl as string;
    const bad = {
      ...tdxCollateral,
      pck_crl: `${crl.slice(0, -4)}${crl.slice(-4) === "0000" ? "0001" : "0000"}`,
    };
    expect(dcap.verify(tdxQuote, bad as never, TDX_NOW).status).toBe("UpToDate");
    const r = await verifyQuote(tdxQuote, bad, { now: TDX_NOW });
    expect(r.reason).toBe("crl_signature_invalid");
  });
  it.each([
    ["header (byte 10)", 10, "quote_signature_invalid"],
    ["TD report body (MRTD, byte 200)", 200, "quote_signature_invalid"],
    ["REPORTDATA (byte 600)", 600, "quote_signature_invalid"],
    ["quote signature (byte 640)", 640, "quote_signature_invalid"],
    ["QE report in certification data (byte 900)", 900, "qe_report_signature_invalid"],
    ["version (byte 0)", 0, "quote_malformed"],
  ] as const)("rejects a flipped bit in the %s", async (_what, offset, reason) => {
    const r = await verifyQuote(flip(tdxQuote, offset), tdxCollateral, { now: TDX_NOW });
    expect(r.reason).toBe(reason);
  });
  it("rejects corrupted certificate data in the PEM chain", async () => {
    const text = Buffer.from(tdxQuote).toString("latin1");
    const at = text.indexOf("-----BEGIN CERTIFICATE-----") + 28 + 100;
    const q = tdxQuote.slice();
    q[at] = q[at] === 0x41 ? 0x42 : 0x41;
    const r = await verifyQuote(q, tdxCollateral, { now: TDX_NOW });
    expect(r.ok).toBe(false);
    expect(["quote_malformed", "certificate_chain_invalid"]).toContain(r.reason);
  });
  it("rejects a truncated quote", async () => {
    const r = await verifyQuote(tdxQuote.subarray(0, 1000), tdxCollateral, { now: TDX_NOW });
    expect(r.reason).toBe("quote_malformed");
  });
  it("rejects it under another trust anchor", async () => {
    const { createTestPki } = await import("@chaoschain/zerog-tee-sim");
    const r = await verifyQuote(tdxQuote, tdxCollateral, {
      now: TDX_NOW,
      policy: { tee: { rootCaPem: createTestPki({ seed: "x" }).rootCaPem } },
    });
    expect(r.reason).toBe("untrusted_root");
    expect(r.message).toMatch(
      /^the quote chains to an untrusted root CA "Intel SGX Root CA" \(sha256 44a0196b2b99f889…\), not the policy's trust anchor "ChaosChain TEST SGX Root CA"/,
    );
  });
});

describe("real Intel SGX vector", () => {
  it("is ConfigurationAndSWHardeningNeeded with INTEL-SA-00289 and INTEL-SA-00615", async () => {
    const policy = {
      tee: {
        allowedTeeTypes: ["sgx" as const],
        allowedTcbStatuses: ["ConfigurationAndSWHardeningNeeded" as const],
      },
    };
    const r = await verifyQuote(sgxQuote, sgxCollateral, { now: SGX_NOW, policy });
    expect(r).toMatchObject({
      ok: true,
      tcbStatus: "ConfigurationAndSWHardeningNeeded",
      advisoryIds: ["INTEL-SA-00289", "INTEL-SA-00615"],
    });
    expect(r.quote?.sgx?.mrEnclave).toBe("33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
  });
  it("is rejected by the default policy (TDX only)", async () => {
    const r = await verifyQuote(sgxQuote, sgxCollateral, { now: SGX_NOW });
    expect(r.reason).toBe("tee_type_not_allowed");
  });
  it("is rejected by a policy allowing SGX but UpToDate only, with the status and advisories reported", async () => {
    const r = await verifyQuote(sgxQuote, sgxCollateral, {
      now: SGX_NOW,
      policy: { tee: { allowedTeeTypes: ["sgx"] } },
    });
    expect(r).toMatchObject({
      ok: false,
      reason: "tcb_status_not_allowed",
      tcbStatus: "ConfigurationAndSWHardeningNeeded",
    });
    expect(r.advisoryIds).toEqual(["INTEL-SA-00289", "INTEL-SA-00615"]);
  });
  it("advisory allow-list", async () => {
    const policy = {
      tee: {
        allowedTeeTypes: ["sgx" as const],
        allowedTcbStatuses: ["ConfigurationAndSWHardeningNeeded" as const],
        allowedAdvisoryIds: ["INTEL-SA-00289"],
      },
    };
    const r = await verifyQuote(sgxQuote, sgxCollateral, { now: SGX_NOW, policy });
    expect(r.reason).toBe("advisory_not_allowed");
  });
  it("reports the SGX TDX-module step as not applicable", async () => {
    const r = await verifyQuote(sgxQuote, sgxCollateral, {
      now: SGX_NOW,
      policy: { tee: { allowedTeeTypes: ["sgx"] } },
    });
    expect(r.checks.find((c) => c.name === "quote.tdx_module")).toMatchObject({
      status: "skipped",
      skipReason: "not_applicable",
    });
  });
  it.each([100, 368, 431])("rejects a flipped bit at byte %i of the signed region", async (offset) => {
    const r = await verifyQuote(flip(sgxQuote, offset), sgxCollateral, {
      now: SGX_NOW,
      policy: {
        tee: { allowedTeeTypes: ["sgx"], allowedTcbStatuses: ["ConfigurationAndSWHardeningNeeded"] },
      },
    });
    expect(r.reason).toBe("quote_signature_invalid");
  });
});

describe("collateral source and cache", () => {
  it("fetches once per FMSPC/CA and serves repeated quotes from the cache", async () => {
    const requests: unknown[] = [];
    const source = createCollateralSource({
      fetch: (req) => {
        requests.push(req);
        return tdxCollateral;
      },
    });
    const cache = createVerificationCache();
    const a = await verifyQuote(tdxQuote, source, { now: TDX_NOW, cache });
    const b = await verifyQuote(tdxQuote, source, { now: TDX_NOW + 10, cache });
    expect(a.ok && b.ok).toBe(true);
    expect(a.cached).toBe(false);
    expect(b.cached).toBe(true);
    expect(requests).toEqual([{ teeType: "tdx", fmspc: "B0C06F000000", ca: "platform", now: TDX_NOW }]);
    expect(cache.stats().hits).toBeGreaterThan(0);
    const late = await verifyQuote(tdxQuote, tdxCollateral, { now: 1752920164, cache });
    expect(late.reason).toBe("collateral_expired");
  });
  it("errors: missing now, bad quote type, malformed collateral", async () => {
    await expect(verifyQuote(tdxQuote, tdxCollateral, {} as never)).rejects.toMatchObject({
      name: "InvalidInputError",
      field: "now",
    });
    await expect(verifyQuote(42 as never, tdxCollateral, { now: TDX_NOW })).rejects.toMatchObject({
      field: "quote",
      code: "invalid_input",
    });
    await expect(
      verifyQuote(tdxQuote, { ...tdxCollateral, tcb_info: undefined } as never, { now: TDX_NOW }),
    ).rejects.toMatchObject({
      field: "collateral.tcb_info",
    });
    await expect(verifyQuote(tdxQuote, "{not json", { now: TDX_NOW })).rejects.toMatchObject({
      field: "collateral",
    });
  });
});
