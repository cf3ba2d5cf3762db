import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { createCertificate } from "./create-certificate.js";
import { createCollateral } from "./create-collateral.js";
import { createDstackAttestation, runtimeEvent } from "./create-dstack-attestation.js";
import { createSgxQuote } from "./create-sgx-quote.js";
import { createTdxQuote } from "./create-tdx-quote.js";
import { createTestPki } from "./create-test-pki.js";
import { quoteLayout, replaceCertificationData } from "./edit-quote.js";
import { utf8ToBytes } from "./util.js";

const require = createRequire(import.meta.url);
const { QuoteVerifier, Quote } = require("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");
const now = 1751624191;
const pki = createTestPki({ seed: "attack-fixtures" });
const verifier = QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer));

describe("createSgxQuote", () => {
  it("verifies with dcap-qvl against SGX collateral", () => {
    const quote = createSgxQuote({ pki, reportData: new Uint8Array(64).fill(3), isvProdId: 7, isvSvn: 9 });
    const r = verifier.verify(quote, createCollateral({ pki, now, teeType: "sgx" }), now);
    expect(r.status).toBe("UpToDate");
    const sgx = r.report.asSgx();
    expect(sgx?.isvProdId).toBe(7);
    expect(sgx?.isvSvn).toBe(9);
  });
  it("is rejected with TDX collateral", () => {
    const quote = createSgxQuote({ pki, reportData: new Uint8Array(64) });
    expect(() => verifier.verify(quote, createCollateral({ pki, now }), now)).toThrow(
      /QE Identity id\/version/,
    );
  });
});

describe("replaceCertificationData", () => {
  it.each([
    ["TDX v4", createTdxQuote({ pki, reportData: new Uint8Array(64) })],
    ["TDX v5", createTdxQuote({ pki, reportData: new Uint8Array(64), version: 5 })],
    ["SGX v3", createSgxQuote({ pki, reportData: new Uint8Array(64) })],
  ])("%s: the same chain gives the same bytes; another chain keeps the quote parseable", (_, quote) => {
    expect(Buffer.from(replaceCertificationData(quote, utf8ToBytes(pki.pckChainPem)))).toEqual(
      Buffer.from(quote),
    );
    const longer = replaceCertificationData(quote, utf8ToBytes(`${pki.pckChainPem}\n\n`), new Uint8Array(3));
    expect(longer.length).toBe(quote.length + 5);
    expect(quoteLayout(longer).authEnd).toBe(quote.length + 2);
    const parsed = Quote.parse(longer);
    expect(Buffer.from(parsed.rawCertChain()).toString()).toBe(`${pki.pckChainPem}\n\n`);
  });
});

describe("createCertificate", () => {
  it("impersonates a CA name under an attacker key", () => {
    const forged = createCertificate({
      subject: pki.pckCa.subject,
      issuer: pki.root.subject,
      seed: "f",
      ca: true,
    });
    expect(Buffer.from(forged.subject)).toEqual(Buffer.from(pki.pckCa.subject));
    expect(Buffer.from(forged.publicKey)).not.toEqual(Buffer.from(pki.pckCa.publicKey));
    expect(forged.pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });
});

describe("createDstackAttestation editEvents", () => {
  it("builds the quote from the edited log (RTMR3 replays it)", () => {
    const att = createDstackAttestation({
      pki,
      signingAddress: "0x1111111111111111111111111111111111111111",
      binding: "address-ascii",
      appCompose: "{}",
      now,
      editEvents: (ev) => [...ev, runtimeEvent("compose-hash", new Uint8Array(32).fill(9))],
    });
    expect(att.eventLog.filter((e) => e.event === "compose-hash")).toHaveLength(2);
    const quote = Quote.parse(att.quote);
    expect(Buffer.from(quote.report.asTd10()?.rtMr3 ?? []).toString("hex")).toBe(att.rtmrs[3]);
  });
});
