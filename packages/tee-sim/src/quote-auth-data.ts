import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import type { TestPki } from "./create-test-pki.js";
import { concatBytes, u16le, u32le, utf8ToBytes } from "./util.js";

/** The quoting enclave's own SGX report (384 bytes), whose REPORTDATA binds the attestation key. */
function qeReport(pki: TestPki, reportData: Uint8Array): Uint8Array {
  const attributes = new Uint8Array(16);
  attributes[0] = 0x11;
  return concatBytes(
    pki.cpuSvn,
    u32le(0), // miscSelect
    new Uint8Array(28),
    attributes,
    pki.derive("qe-mrenclave", 32),
    new Uint8Array(32),
    pki.qe.mrSigner,
    new Uint8Array(96),
    u16le(pki.qe.isvProdId),
    u16le(pki.qe.isvSvn),
    new Uint8Array(60),
    reportData,
  );
}

export interface QuoteAuthParameters {
  pki: TestPki;
  /** The signed region: header (+ v5 body descriptor) + report body. */
  signed: Uint8Array;
  /** 3 = SGX v3 layout (QE report inline, type 5), 4 = TDX v4/v5 layout (type 6 wrapping type 5). */
  layout: 3 | 4;
  /** Sign the quote with this P-256 key instead of the QE attestation key. */
  signingKey?: Uint8Array | undefined;
  /** Bytes of the innermost (type 5) certification data; default: the PKI's PEM chain. */
  certificationData?: Uint8Array | undefined;
}

/** `signed ‖ u32 auth data size ‖ auth data`: the QE's signature, its report, and the PCK chain. */
export function signQuote(p: QuoteAuthParameters): Uint8Array {
  const { pki } = p;
  const quoteSignature = p256.sign(p.signed, p.signingKey ?? pki.attestationKey.privateKey, {
    prehash: true,
    format: "compact",
  });
  const qeAuthData = pki.derive("qe-auth-data", 32);
  const report = qeReport(
    pki,
    concatBytes(sha256(concatBytes(pki.attestationKey.publicKey, qeAuthData)), new Uint8Array(32)),
  );
  const reportSignature = p256.sign(report, pki.pck.privateKey, { prehash: true, format: "compact" });
  const chain = p.certificationData ?? utf8ToBytes(pki.pckChainPem);
  const pck = concatBytes(u16le(5), u32le(chain.length), chain);
  const qeBlock = concatBytes(report, reportSignature, u16le(qeAuthData.length), qeAuthData);
  const authData =
    p.layout === 3
      ? concatBytes(quoteSignature, pki.attestationKey.publicKey, qeBlock, pck)
      : concatBytes(
          quoteSignature,
          pki.attestationKey.publicKey,
          u16le(6),
          u32le(qeBlock.length + pck.length),
          qeBlock,
          pck,
        );
  return concatBytes(p.signed, u32le(authData.length), authData);
}
