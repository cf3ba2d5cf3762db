import type { TestPki } from "./create-test-pki.js";
import { signQuote } from "./quote-auth-data.js";
import { bytesOrHex, concatBytes, fixed, hexToBytes, u16le, u32le } from "./util.js";

/** Intel's QE vendor id, 939A7233-F79C-4CA9-940A-0DB3957F0607. */
export const INTEL_QE_VENDOR_ID = hexToBytes("939a7233f79c4ca9940a0db3957f0607");

/** TD attributes with only SEPT_VE_DISABLE set (what dcap-qvl requires of a production TD). */
export const DEFAULT_TD_ATTRIBUTES = hexToBytes("0000001000000000");

type Bytes48 = Uint8Array | string;

export interface CreateTdxQuoteParameters {
  pki: TestPki;
  /** The 64-byte REPORTDATA. */
  reportData: Uint8Array;
  mrtd?: Bytes48 | undefined;
  rtmr0?: Bytes48 | undefined;
  rtmr1?: Bytes48 | undefined;
  rtmr2?: Bytes48 | undefined;
  rtmr3?: Bytes48 | undefined;
  /** Quote format: 4 (default) or 5 (with a TD report 1.0 body descriptor). */
  version?: 4 | 5 | undefined;
  /** 16 bytes; defaults to Intel's. */
  qeVendorId?: Uint8Array | undefined;
  /** 16 bytes; the TDX TCB SVNs (default 06 01 03 00…). */
  teeTcbSvn?: Uint8Array | undefined;
  /** 8 bytes; default {@link DEFAULT_TD_ATTRIBUTES}. */
  tdAttributes?: Uint8Array | undefined;
  mrConfigId?: Bytes48 | undefined;
  mrOwner?: Bytes48 | undefined;
  mrOwnerConfig?: Bytes48 | undefined;
  /** 20 bytes of header user data (QE id); derived from the seed by default. */
  userData?: Uint8Array | undefined;
  /** Sign the quote with this P-256 key instead of the QE attestation key (to forge a bad signature). */
  signingKey?: Uint8Array | undefined;
  /** 48 bytes; the TDX module's measurement (default: derived from the seed). */
  mrSeam?: Bytes48 | undefined;
  /** 48 bytes; the TDX module's signer (default zero: Intel's module). */
  mrSignerSeam?: Bytes48 | undefined;
  /** 8 bytes; the TDX module's attributes (default zero). */
  seamAttributes?: Uint8Array | undefined;
  /** Bytes of the PCK certification data (type 5); default: the PKI's PEM chain leaf → CA → root. */
  certificationData?: Uint8Array | undefined;
}

export type CreateTdxQuoteReturnType = Uint8Array;

/** Byte offsets of the TD report fields in a v4 quote (add 6 for v5). */
export const TDX_QUOTE_OFFSETS = {
  header: 0,
  body: 48,
  teeTcbSvn: 48,
  mrSeam: 64,
  tdAttributes: 120,
  mrtd: 184,
  rtmr0: 376,
  rtmr1: 424,
  rtmr2: 472,
  rtmr3: 520,
  reportData: 568,
  /** End of the signed region (header + TD report 1.0). */
  signedEnd: 632,
} as const;

/**
 * Builds a real, verifiable Intel TDX quote (v4 or v5) under the test PKI: header + TD report 1.0 signed
 * by the QE attestation key, QE report signed by the PCK key and binding the attestation key, and
 * certification data type 6 wrapping the PEM chain (type 5).
 *
 * @example
 * const quote = createTdxQuote({ pki, reportData: new Uint8Array(64) });
 * QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer)).verify(quote, collateral, now);
 */
export function createTdxQuote(p: CreateTdxQuoteParameters): CreateTdxQuoteReturnType {
  const { pki } = p;
  const version = p.version ?? 4;
  if (version !== 4 && version !== 5)
    throw new RangeError(`version: expected 4 or 5, got ${String(version)}`);
  const reportData = fixed(p.reportData, 64, "reportData");
  const header = concatBytes(
    u16le(version),
    u16le(2), // ECDSA-256 with P-256
    u32le(0x81), // TDX
    u16le(0), // reserved (QE SVN)
    u16le(0), // reserved (PCE SVN)
    fixed(p.qeVendorId ?? INTEL_QE_VENDOR_ID, 16, "qeVendorId"),
    p.userData ? fixed(p.userData, 20, "userData") : pki.derive("qe-id", 20),
  );
  const m = (v: Bytes48 | undefined, label: string) =>
    v === undefined ? pki.derive(`default-${label}`, 48) : bytesOrHex(v, 48, label);
  const body = concatBytes(
    fixed(p.teeTcbSvn ?? Uint8Array.from([6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 16, "teeTcbSvn"),
    p.mrSeam === undefined ? pki.derive("mrseam", 48) : bytesOrHex(p.mrSeam, 48, "mrSeam"),
    p.mrSignerSeam === undefined ? new Uint8Array(48) : bytesOrHex(p.mrSignerSeam, 48, "mrSignerSeam"),
    fixed(p.seamAttributes, 8, "seamAttributes"),
    fixed(p.tdAttributes ?? DEFAULT_TD_ATTRIBUTES, 8, "tdAttributes"),
    hexToBytes("e718060000000000"), // xfam
    m(p.mrtd, "mrtd"),
    p.mrConfigId === undefined ? new Uint8Array(48) : bytesOrHex(p.mrConfigId, 48, "mrConfigId"),
    p.mrOwner === undefined ? new Uint8Array(48) : bytesOrHex(p.mrOwner, 48, "mrOwner"),
    p.mrOwnerConfig === undefined ? new Uint8Array(48) : bytesOrHex(p.mrOwnerConfig, 48, "mrOwnerConfig"),
    m(p.rtmr0, "rtmr0"),
    m(p.rtmr1, "rtmr1"),
    m(p.rtmr2, "rtmr2"),
    p.rtmr3 === undefined ? new Uint8Array(48) : bytesOrHex(p.rtmr3, 48, "rtmr3"),
    reportData,
  );
  const signed =
    version === 5 ? concatBytes(header, u16le(2), u32le(body.length), body) : concatBytes(header, body);
  return signQuote({
    pki,
    signed,
    layout: 4,
    signingKey: p.signingKey,
    certificationData: p.certificationData,
  });
}
