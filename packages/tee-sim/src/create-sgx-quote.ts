import { INTEL_QE_VENDOR_ID } from "./create-tdx-quote.js";
import type { TestPki } from "./create-test-pki.js";
import { signQuote } from "./quote-auth-data.js";
import { bytesOrHex, concatBytes, fixed, u16le, u32le } from "./util.js";

export interface CreateSgxQuoteParameters {
  pki: TestPki;
  /** The 64-byte REPORTDATA. */
  reportData: Uint8Array;
  /** 32 bytes (default: derived from the seed). */
  mrEnclave?: Uint8Array | string | undefined;
  /** 32 bytes (default: derived from the seed). */
  mrSigner?: Uint8Array | string | undefined;
  isvProdId?: number | undefined;
  isvSvn?: number | undefined;
  /** 16 bytes; default 0x04 (MODE64BIT), not DEBUG. */
  attributes?: Uint8Array | undefined;
  /** Sign the quote with this P-256 key instead of the QE attestation key. */
  signingKey?: Uint8Array | undefined;
}

/**
 * Builds a real, verifiable Intel SGX quote (v3) under the test PKI: header + ISV enclave report signed by
 * the QE attestation key, the QE report signed by the PCK key, and the PEM chain (certification data type 5).
 * Verify it with collateral from `createCollateral({ pki, now, teeType: "sgx" })`.
 *
 * @example
 * const quote = createSgxQuote({ pki, reportData: new Uint8Array(64), mrEnclave: "ab".repeat(32) });
 */
export function createSgxQuote(p: CreateSgxQuoteParameters): Uint8Array {
  const { pki } = p;
  const attributes = new Uint8Array(16);
  attributes[0] = 0x04;
  const header = concatBytes(
    u16le(3),
    u16le(2), // ECDSA-256 with P-256
    u32le(0), // SGX
    u16le(0),
    u16le(0),
    INTEL_QE_VENDOR_ID,
    pki.derive("qe-id", 20),
  );
  const body = concatBytes(
    pki.cpuSvn,
    u32le(0), // miscSelect
    new Uint8Array(28),
    fixed(p.attributes ?? attributes, 16, "attributes"),
    p.mrEnclave === undefined ? pki.derive("mrenclave", 32) : bytesOrHex(p.mrEnclave, 32, "mrEnclave"),
    new Uint8Array(32),
    p.mrSigner === undefined ? pki.derive("mrsigner", 32) : bytesOrHex(p.mrSigner, 32, "mrSigner"),
    new Uint8Array(96),
    u16le(p.isvProdId ?? 1),
    u16le(p.isvSvn ?? 1),
    new Uint8Array(60),
    fixed(p.reportData, 64, "reportData"),
  );
  return signQuote({ pki, signed: concatBytes(header, body), layout: 3, signingKey: p.signingKey });
}
