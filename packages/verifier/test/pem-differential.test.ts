import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import {
  createCertificate,
  createCrl,
  replaceCertificationData,
  type TestCert,
} from "@chaoschain/zerog-tee-sim";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Collateral, verifyQuote } from "../src/index.js";
import { parsePemChain } from "../src/internal/pem.js";
import { parseCertificate } from "../src/internal/x509.js";

const require = createRequire(import.meta.url);
const dcapUtils = require("@phala/dcap-qvl/src/utils.js") as {
  extractRawCerts(chain: Uint8Array): Uint8Array[];
};

const dir = new URL("./vectors/dcap/", import.meta.url);
const tdxQuote = new Uint8Array(readFileSync(new URL("tdx_quote", dir)));
const tdxCollateral = JSON.parse(
  readFileSync(new URL("tdx_quote_collateral.json", dir), "utf8"),
) as Collateral;
const TDX_NOW = 1751624191;
const enc = (s: string) => new TextEncoder().encode(s);
const pemBlocks = (text: string) =>
  text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];

/** The real quote's PEM chain: Intel PCK leaf, Intel SGX PCK Platform CA, Intel SGX Root CA. */
const chainText = (() => {
  const text = Buffer.from(tdxQuote).toString("latin1");
  const start = text.indexOf("-----BEGIN CERTIFICATE-----");
  return text.slice(start, text.lastIndexOf("-----END CERTIFICATE-----") + 26);
})();
const [leafPem, caPem, rootPem] = pemBlocks(chainText) as [string, string, string];
const der = (pem: string) => Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");

/** A CA carrying the real Intel PCK Platform CA's name, under a key the attacker holds. */
const forged: TestCert = createCertificate({
  subject: parseCertificate(der(caPem)).subject,
  issuer: parseCertificate(der(rootPem)).subject,
  seed: "forged-intel-pck-ca",
  ca: true,
});
/** A PCK CRL in the real CA's name, signed by the forged CA: it would hide any revocation by Intel. */
const forgedCollateral: Collateral = {
  ...tdxCollateral,
  pck_crl: Buffer.from(
    createCrl({ issuer: forged, thisUpdate: TDX_NOW - 86400, nextUpdate: TDX_NOW + 86400 }),
  ).toString("hex"),
  pck_crl_issuer_chain: forged.pem + rootPem,
};

describe("PEM differential on the real Intel TDX vector (default Intel root)", () => {
  it("TAB after BEGIN: a forged CA hidden from dcap-qvl does not make a forged PCK CRL trusted", async () => {
    const hidden = forged.pem.replace("-----BEGIN CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\t\n");
    const quote = replaceCertificationData(tdxQuote, enc(`${leafPem}${hidden}${caPem}${rootPem}\0`));
    // dcap-qvl reads the original three certificates and verifies the quote...
    expect(dcapUtils.extractRawCerts(enc(`${leafPem}${hidden}${caPem}${rootPem}`)).length).toBe(3);
    const r = await verifyQuote(quote, forgedCollateral, { now: TDX_NOW });
    // ...the verifier must not read another chain than the one dcap-qvl verified.
    expect(r.ok).toBe(false);
    expect(r.reason).toBe("quote_malformed");
  });
  it("without the TAB, the forged PCK CRL fails its own check up to the root", async () => {
    const r = await verifyQuote(tdxQuote, forgedCollateral, { now: TDX_NOW });
    expect(r.reason).toBe("certificate_chain_invalid");
    expect(r.checks.find((c) => c.name === "collateral.integrity")?.status).toBe("fail");
  });
  it.each([
    ["a TAB after BEGIN", (s: string) => s.replace("CERTIFICATE-----\n", "CERTIFICATE-----\t\n")],
    ["a space inside the base64", (s: string) => s.replace(/\n(.{10})/, "\n$1 ")],
    ["a fourth certificate", (s: string) => s + rootPem],
    ["two certificates", () => leafPem + caPem],
    ["text before the chain", (s: string) => `x${s}`],
    ["text after the chain", (s: string) => `${s}x`],
    ["'=' inside the base64", (s: string) => s.replace(/\n(.{8})/, "\n$1=")],
  ])("refuses %s in the quote's certification data", async (_, edit) => {
    const r = await verifyQuote(replaceCertificationData(tdxQuote, enc(edit(chainText))), tdxCollateral, {
      now: TDX_NOW,
    });
    expect(r.reason).toBe("quote_malformed");
  });
  it("accepts the chain with CRLF line ends and a trailing NUL, as dcap-qvl does", async () => {
    const crlf = enc(`${chainText.replace(/\n/g, "\r\n")}\0`);
    const r = await verifyQuote(replaceCertificationData(tdxQuote, crlf), tdxCollateral, { now: TDX_NOW });
    expect(r.checks.filter((c) => c.status === "fail")).toEqual([]);
  });
});

describe("strict PEM parser vs dcap-qvl's extraction (property)", () => {
  const chain = enc(chainText);
  it("whatever the strict parser accepts, dcap-qvl reads as the same certificates", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.nat(chain.length - 1), fc.constantFrom(9, 10, 13, 32, 43, 45, 47, 61, 65, 0, 0x80)),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        (edits) => {
          const bytes = chain.slice();
          for (const [at, b] of edits) bytes[at] = b;
          let ours: Uint8Array[];
          try {
            ours = parsePemChain(bytes);
          } catch {
            return; // refused: nothing to compare
          }
          const theirs = dcapUtils.extractRawCerts(bytes);
          expect(theirs.map((d) => Buffer.from(d).toString("hex"))).toEqual(
            ours.map((d) => Buffer.from(d).toString("hex")),
          );
        },
      ),
      { numRuns: 2000, seed: 9 },
    );
  });
});
