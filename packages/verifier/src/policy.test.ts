import { createRequire } from "node:module";
import { createTestPki } from "@chaoschain/zerog-tee-sim";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { defaultPolicy, resolvePolicy } from "./policy.js";

const require = createRequire(import.meta.url);
const dcap = require("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");

describe("policy", () => {
  it("default root is Intel's SGX Root CA (same bytes as dcap-qvl's)", () => {
    const p = resolvePolicy();
    expect(bytesToHex(sha256(p.rootCa))).toBe(
      "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3",
    );
    expect(Buffer.from(p.rootCa).equals(dcap.constants.TRUSTED_ROOT_CA_DER)).toBe(true);
  });
  it("defaults", () => {
    expect(defaultPolicy.tee.allowedTcbStatuses).toEqual(["UpToDate"]);
    expect(defaultPolicy.tee.requireQuote).toBe(true);
    expect(defaultPolicy.gpu.required).toBe(false);
    expect(JSON.parse(JSON.stringify(defaultPolicy))).toEqual(defaultPolicy);
  });
  it("root from PEM, DER bytes, hex and base64 agree", () => {
    const pki = createTestPki({ seed: "p" });
    const der = bytesToHex(pki.rootCaDer);
    for (const tee of [
      { rootCaPem: pki.rootCaPem },
      { rootCaDer: pki.rootCaDer },
      { rootCaDer: der },
      { rootCaDer: Buffer.from(pki.rootCaDer).toString("base64") },
    ]) {
      expect(bytesToHex(resolvePolicy({ tee }).rootCa)).toBe(der);
    }
  });
  it("merges partial input and validates it", () => {
    expect(
      resolvePolicy({ tee: { allowedTcbStatuses: ["SWHardeningNeeded"] } }).tee.allowedQeVendorIds,
    ).toEqual(defaultPolicy.tee.allowedQeVendorIds);
    expect(() => resolvePolicy({ tee: { mrtd: "x" as never } })).toThrow(
      expect.objectContaining({ field: "policy.tee.mrtd" }),
    );
    expect(() => resolvePolicy({ gpu: { jwks: {} as never } })).toThrow(
      expect.objectContaining({ field: "policy.gpu.jwks" }),
    );
    expect(() => resolvePolicy({ tee: { rootCaPem: "nope" } })).toThrow(
      expect.objectContaining({ field: "policy.tee.rootCaPem" }),
    );
  });
});
