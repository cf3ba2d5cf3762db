import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { createRequire } from "node:module";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import "../test/reflect-shim.js";
import { X509Certificate, X509Crl } from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import * as exports from "./index.js";
import {
  createCollateral,
  createDstackAttestation,
  createEnclaveKey,
  createNrasKey,
  createNrasToken,
  createTestPki,
  replayImr,
  reportDataFor,
  toChecksumAddress,
} from "./index.js";

const require = createRequire(import.meta.url);
const { QuoteVerifier } = require("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");
const now = 1751624191;

describe("exports", () => {
  it("named exports are stable", () => {
    expect(Object.keys(exports).sort()).toMatchInlineSnapshot(`
      [
        "DEFAULT_TD_ATTRIBUTES",
        "DSTACK_RUNTIME_EVENT_TYPE",
        "INTEL_QE_VENDOR_ID",
        "SGX_OIDS",
        "TDX_QUOTE_OFFSETS",
        "createCertificate",
        "createCollateral",
        "createCrl",
        "createDstackAttestation",
        "createEnclaveKey",
        "createNrasKey",
        "createNrasToken",
        "createSgxQuote",
        "createTdxQuote",
        "createTestPki",
        "dstackEventDigest",
        "quoteLayout",
        "replaceCertificationData",
        "replayImr",
        "reportDataFor",
        "runtimeEvent",
        "toChecksumAddress",
      ]
    `);
  });
});

describe("createTestPki", () => {
  const pki = createTestPki({ seed: "pki" });
  it("certificates parse and chain under the test root", async () => {
    const root = new X509Certificate(pki.rootCaDer as Uint8Array<ArrayBuffer>);
    const ca = new X509Certificate(pki.pckCa.pem);
    const leaf = new X509Certificate(pki.pck.pem);
    const tcb = new X509Certificate(pki.tcbSigning.pem);
    expect(await root.verify({ publicKey: root, signatureOnly: true })).toBe(true);
    expect(await ca.verify({ publicKey: root, signatureOnly: true })).toBe(true);
    expect(await leaf.verify({ publicKey: ca, signatureOnly: true })).toBe(true);
    expect(await tcb.verify({ publicKey: root, signatureOnly: true })).toBe(true);
    expect(leaf.issuer).toBe(ca.subject);
    expect(leaf.getExtension("1.2.840.113741.1.13.1")).not.toBeNull();
  });
  it("CRLs are signed by their issuer", async () => {
    const c = createCollateral({ pki, now, revokedSerials: [pki.pck.serial] });
    const crl = new X509Crl(hexToBytes(c.pck_crl) as Uint8Array<ArrayBuffer>);
    expect(await crl.verify({ publicKey: new X509Certificate(pki.pckCa.pem).publicKey })).toBe(true);
    expect(crl.entries.map((e) => e.serialNumber.replace(/^0+/, ""))).toEqual([pki.pck.serialHex]);
    const bad = createCollateral({ pki, now, badCrlSignature: "pck" });
    const badCrl = new X509Crl(hexToBytes(bad.pck_crl) as Uint8Array<ArrayBuffer>);
    expect(await badCrl.verify({ publicKey: new X509Certificate(pki.pckCa.pem).publicKey })).toBe(false);
  });
});

describe("reportDataFor", () => {
  const addr = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
  it("EIP-55", () => expect(toChecksumAddress(addr)).toBe("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
  it("address-ascii", () => {
    const rd = reportDataFor(addr, "address-ascii");
    expect(new TextDecoder().decode(rd.subarray(0, 42))).toBe("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    expect(rd.subarray(42).every((b) => b === 0)).toBe(true);
  });
  it("enc-pub-v1", () => {
    const enc = new Uint8Array(32).fill(9);
    const rd = reportDataFor(addr, "enc-pub-v1", enc);
    expect(bytesToHex(rd)).toBe(
      `${"09".repeat(32)}5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00000001${"00".repeat(8)}`,
    );
  });
});

describe("createEnclaveKey", () => {
  it("signs EIP-191 messages recoverable to its address", () => {
    const key = createEnclaveKey({ seed: "k" });
    const sig = hexToBytes(key.signPersonalMessage("hello").slice(2));
    expect(sig.length).toBe(65);
    const digest = keccak_256(
      concatBytes(utf8ToBytes("\x19Ethereum Signed Message:\n5"), utf8ToBytes("hello")),
    );
    const rec = concatBytes(Uint8Array.of((sig[64] as number) - 27), sig.subarray(0, 64));
    const pub = secp256k1.recoverPublicKey(rec, digest, { prehash: false });
    expect(`0x${bytesToHex(secp256k1.Point.fromBytes(pub).toBytes(false))}`).toBe(key.publicKey);
  });
});

describe("createNrasToken", () => {
  it("is a valid ES384 JWS for the JWKS", () => {
    const key = createNrasKey({ seed: "n" });
    const token = createNrasToken({ key, nonce: "ab", now });
    const [h, p, s] = token.split(".") as [string, string, string];
    const jwk = key.jwks.keys[0];
    const ok = nodeVerify(
      "sha384",
      Buffer.from(`${h}.${p}`),
      { key: createPublicKey({ key: { ...jwk }, format: "jwk" }), dsaEncoding: "ieee-p1363" },
      Buffer.from(s, "base64url"),
    );
    expect(ok).toBe(true);
    expect(JSON.parse(Buffer.from(p, "base64url").toString())).toMatchObject({ eat_nonce: "ab", iat: now });
  });
});

describe("createDstackAttestation", () => {
  const pki = createTestPki({ seed: "dstack" });
  const key = createEnclaveKey({ seed: "dstack" });
  const nrasKey = createNrasKey({ seed: "dstack" });
  const att = createDstackAttestation({
    pki,
    signingAddress: key.address,
    binding: "address-ascii",
    appCompose: '{"manifest_version":2,"name":"test"}',
    now,
    gpu: { nrasKey },
  });
  it("quote verifies and binds the address", () => {
    const r = QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer)).verify(att.quote, att.collateral, now);
    expect(r.status).toBe("UpToDate");
    const td = r.report.asTd10();
    expect(bytesToHex(td?.reportData ?? new Uint8Array())).toBe(
      bytesToHex(reportDataFor(key.address, "address-ascii")),
    );
    expect(bytesToHex(td?.rtMr3 ?? new Uint8Array())).toBe(att.rtmrs[3]);
  });
  it("event log replays to the RTMRs and carries the compose hash", () => {
    const events = JSON.parse(att.body.event_log);
    for (let i = 0; i < 4; i++) expect(bytesToHex(replayImr(events, i))).toBe(att.rtmrs[i]);
    const ev = events.find((e: { event: string }) => e.event === "compose-hash");
    expect(ev.event_payload).toBe(att.composeHash);
    expect(att.composeHash).toBe(bytesToHex(sha256(utf8ToBytes(att.body.tcb_info.app_compose))));
    expect(att.dockerDigest).toBe(`sha256:${att.composeHash}`);
  });
  it("GPU nonce is sha256 of REPORTDATA", () => {
    expect(att.gpuNonce).toBe(bytesToHex(sha256(att.reportData)));
    expect(att.body.nvidia_payload?.nonce).toBe(att.gpuNonce);
    expect(typeof att.body.nras_token).toBe("string");
    expect(Buffer.from(att.body.report_data, "base64").equals(Buffer.from(att.reportData))).toBe(true);
  });
});
