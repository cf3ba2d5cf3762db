import { createRequire } from "node:module";
import { createTestPki } from "@chaoschain/zerog-tee-sim";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { defaultPolicy, type PolicyInput } from "./policy.js";
import { assertNow, resolvePolicy } from "./resolve-policy.js";

const require = createRequire(import.meta.url);
const dcap = require("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");

describe("resolvePolicy", () => {
  it("default root is Intel's SGX Root CA (same bytes as dcap-qvl's)", () => {
    const p = resolvePolicy();
    expect(p.rootKey).toBe("44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
    expect(Buffer.from(p.root.der).equals(dcap.constants.TRUSTED_ROOT_CA_DER)).toBe(true);
  });
  it("defaults: TDX only, UpToDate only, freshness required, nothing pinned", () => {
    expect(defaultPolicy.tee.allowedTeeTypes).toEqual(["tdx"]);
    expect(defaultPolicy.tee.allowedTcbStatuses).toEqual(["UpToDate"]);
    expect(defaultPolicy.requireFreshness).toBe(true);
    expect(defaultPolicy.gpu).toMatchObject({ required: false, ignore: false });
    expect(JSON.parse(JSON.stringify(defaultPolicy))).toEqual(defaultPolicy);
    const p = resolvePolicy({});
    expect(p.tee.mrtd).toBeUndefined();
    expect(p.dockerDigests).toBeUndefined();
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
      expect(resolvePolicy({ tee }).rootKey).toBe(bytesToHex(sha256(pki.rootCaDer)));
    }
  });
  it("re-reads a trust anchor changed in place, and keeps each root's own key and certificate", () => {
    const a = createTestPki({ seed: "root-a" });
    const b = createTestPki({ seed: "root-b" });
    const keyOf = (pki: typeof a) => bytesToHex(sha256(pki.rootCaDer));
    const policy = { tee: { rootCaPem: a.rootCaPem } as { rootCaPem?: string; rootCaDer?: Uint8Array } };
    const first = resolvePolicy(policy);
    expect(first.rootKey).toBe(keyOf(a));
    expect(first.root.der).toEqual(a.rootCaDer);
    policy.tee.rootCaPem = b.rootCaPem;
    const second = resolvePolicy(policy);
    expect(second.rootKey).toBe(keyOf(b));
    expect(second.root.der).toEqual(b.rootCaDer);
    delete policy.tee.rootCaPem;
    policy.tee.rootCaDer = a.rootCaDer;
    expect(resolvePolicy(policy).rootKey).toBe(keyOf(a));
    // Past the number of parsed roots remembered, each still resolves to its own.
    for (let i = 0; i < 20; i++) {
      const pki = createTestPki({ seed: `root-${i}` });
      expect(resolvePolicy({ tee: { rootCaDer: pki.rootCaDer } }).root.der).toEqual(pki.rootCaDer);
      expect(resolvePolicy({ tee: { rootCaPem: pki.rootCaPem } }).rootKey).toBe(keyOf(pki));
    }
    expect(resolvePolicy({ tee: { rootCaPem: b.rootCaPem } }).root.der).toEqual(b.rootCaDer);
    // A PEM parsed before is still refused next to a DER (two trust anchors).
    expect(() => resolvePolicy({ tee: { rootCaPem: b.rootCaPem, rootCaDer: b.rootCaDer } })).toThrow(
      /give one trust anchor/,
    );
    // A root that is not a certificate is refused every time, not remembered.
    for (let i = 0; i < 2; i++)
      expect(() => resolvePolicy({ tee: { rootCaDer: "3000" } })).toThrow(
        expect.objectContaining({ field: "policy.tee.rootCaDer" }),
      );
  });
  it("normalises hex lists (case, 0x) and docker digests", () => {
    const p = resolvePolicy({
      tee: { mrtd: [`0x${"AB".repeat(48)}`] },
      dockerDigests: [`SHA256:${"CD".repeat(32)}`],
    });
    expect(p.tee.mrtd).toEqual(["ab".repeat(48)]);
    expect(p.dockerDigests).toEqual([`sha256:${"cd".repeat(32)}`]);
  });
  it("is not memoised: a policy changed in place is read again", () => {
    const policy: PolicyInput = { tee: { mrtd: ["00".repeat(48)] } };
    expect(resolvePolicy(policy).tee.mrtd).toEqual(["00".repeat(48)]);
    (policy.tee as { mrtd: string[] }).mrtd = ["11".repeat(48)];
    expect(resolvePolicy(policy).tee.mrtd).toEqual(["11".repeat(48)]);
  });
  it.each([
    ["not an object", "x", "policy"],
    ["an unknown field", { mrtd: [] }, "policy.mrtd"],
    ["an unknown tee field (typo)", { tee: { mrTD: ["00".repeat(48)] } }, "policy.tee.mrTD"],
    ["an unknown gpu field", { gpu: { require: true } }, "policy.gpu.require"],
    ["a wrong type", { tee: { requireQuote: "yes" } }, "policy.tee.requireQuote"],
    ["a string for a list", { tee: { mrtd: "x" } }, "policy.tee.mrtd"],
    ["an empty allow-list", { tee: { mrtd: [] } }, "policy.tee.mrtd"],
    ["an empty TEE type list", { tee: { allowedTeeTypes: [] } }, "policy.tee.allowedTeeTypes"],
    ["a short MRTD", { tee: { rtmr1: ["00"] } }, "policy.tee.rtmr1[0]"],
    ["an unknown TEE type", { tee: { allowedTeeTypes: ["sev"] } }, "policy.tee.allowedTeeTypes[0]"],
    ["Revoked allowed", { tee: { allowedTcbStatuses: ["Revoked"] } }, "policy.tee.allowedTcbStatuses[0]"],
    ["a bad QE vendor id", { tee: { allowedQeVendorIds: ["abc"] } }, "policy.tee.allowedQeVendorIds[0]"],
    [
      "an ISVPRODID out of range",
      { tee: { allowedTeeTypes: ["sgx"], isvProdIds: [70000] } },
      "policy.tee.isvProdIds[0]",
    ],
    ["a fractional ISVSVN", { tee: { allowedTeeTypes: ["sgx"], minIsvSvn: 1.5 } }, "policy.tee.minIsvSvn"],
    ["a bad docker digest", { dockerDigests: ["abc"] }, "policy.dockerDigests[0]"],
    [
      "docker digests without the event log",
      { tee: { requireEventLog: false }, dockerDigests: [`sha256:${"00".repeat(32)}`] },
      "policy.dockerDigests",
    ],
    [
      "pins without a quote",
      { tee: { requireQuote: false, mrtd: ["00".repeat(48)] } },
      "policy.tee.requireQuote",
    ],
    ["a negative maximum age", { maxAgeSeconds: -1 }, "policy.maxAgeSeconds"],
    ["a fractional skew", { maxFutureSkewSeconds: 0.5 }, "policy.maxFutureSkewSeconds"],
    ["an infinite maximum age", { maxAgeSeconds: Number.POSITIVE_INFINITY }, "policy.maxAgeSeconds"],
    ["GPU required and ignored", { gpu: { required: true, ignore: true } }, "policy.gpu.ignore"],
    ["a JWKS without keys", { gpu: { jwks: {} } }, "policy.gpu.jwks"],
    ["a JWK without kty", { gpu: { jwks: { keys: [{}] } } }, "policy.gpu.jwks.keys[0]"],
    ["an unknown required check", { requiredChecks: ["tee.everything"] }, "policy.requiredChecks[0]"],
    ["two trust anchors", { tee: { rootCaPem: "x", rootCaDer: "00" } }, "policy.tee.rootCaDer"],
    ["a PEM that is not one certificate", { tee: { rootCaPem: "nope" } }, "policy.tee.rootCaPem"],
    ["DER that is not a certificate", { tee: { rootCaDer: "3000" } }, "policy.tee.rootCaDer"],
  ])("throws InvalidInputError for %s", (_, input, field) => {
    expect(() => resolvePolicy(input as never)).toThrow(
      expect.objectContaining({ name: "InvalidInputError", field }),
    );
  });
});

describe("assertNow", () => {
  it.each([0, 1751624191, 253402300799])("accepts %s", (now) => expect(assertNow(now)).toBe(now));
  it.each([-1, 1.5, 253402300800, 1e20, Number.NaN, "1751624191", undefined])("refuses %s", (now) => {
    expect(() => assertNow(now)).toThrow(
      expect.objectContaining({ name: "InvalidInputError", field: "now" }),
    );
  });
});
