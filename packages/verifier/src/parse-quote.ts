import { InvalidInputError } from "./errors/input.js";
import {
  bytesToHex,
  bytesToUtf8,
  hexToBytesStrict,
  isBytes,
  pemToDers,
  readU16le,
  readU32le,
} from "./internal/bytes.js";

/** Fields of an Intel DCAP quote (SGX v3, TDX v4/v5), measurements as lowercase hex. */
export interface ParsedQuote {
  version: number;
  teeType: "tdx" | "sgx";
  attestationKeyType: number;
  /** hex, uppercase */
  qeVendorId: string;
  /** "td10" | "td15" | "sgx" */
  bodyType: "td10" | "td15" | "sgx";
  /** Length of the signed region (header [+ body descriptor] + report body). */
  signedLength: number;
  /** 64 bytes. */
  reportData: Uint8Array;
  td?: {
    teeTcbSvn: string;
    mrSeam: string;
    tdAttributes: string;
    xfam: string;
    mrtd: string;
    mrConfigId: string;
    mrOwner: string;
    mrOwnerConfig: string;
    rtmr0: string;
    rtmr1: string;
    rtmr2: string;
    rtmr3: string;
  };
  sgx?: { mrEnclave: string; mrSigner: string; isvProdId: number; isvSvn: number; attributes: string };
  /** Innermost certification data type (5 = PCK chain in PEM). */
  certificationDataType: number;
  /** DER certificates of the PCK chain (leaf first) when the type is 5, else []. */
  pckChain: Uint8Array[];
}

export type ParseQuoteErrorType = InvalidInputError;

const TEE_TDX = 0x81;

class Cursor {
  constructor(
    readonly b: Uint8Array,
    public off = 0,
  ) {}
  need(n: number, what: string) {
    if (this.off + n > this.b.length)
      throw new InvalidInputError("quote", `truncated while reading ${what} at byte ${this.off}`);
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = readU16le(this.b, this.off);
    this.off += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = readU32le(this.b, this.off);
    this.off += 4;
    return v;
  }
}

/** Quote bytes from bytes or hex text (`0x` optional). */
export function toQuoteBytes(quote: Uint8Array | string, field = "quote"): Uint8Array {
  if (isBytes(quote)) return quote;
  if (typeof quote === "string") return hexToBytesStrict(quote, field);
  throw new InvalidInputError(field, "expected bytes or a hex string");
}

/**
 * Parses an Intel DCAP quote's structure (no cryptography). Throws {@link InvalidInputError} naming the field
 * for truncated or unsupported layouts.
 *
 * @example
 * const q = parseQuote(quoteBytes); q.td?.mrtd
 */
export function parseQuote(quote: Uint8Array | string): ParsedQuote {
  const b = toQuoteBytes(quote);
  const c = new Cursor(b);
  const version = c.u16("header.version");
  const attestationKeyType = c.u16("header.attestationKeyType");
  const teeTypeRaw = c.u32("header.teeType");
  c.bytes(4, "header.reserved");
  const qeVendorId = bytesToHex(c.bytes(16, "header.qeVendorId")).toUpperCase();
  c.bytes(20, "header.userData");
  if (teeTypeRaw !== 0 && teeTypeRaw !== TEE_TDX)
    throw new InvalidInputError("quote.header.teeType", `unknown TEE type 0x${teeTypeRaw.toString(16)}`);
  const teeType = teeTypeRaw === TEE_TDX ? "tdx" : "sgx";
  let bodyType: ParsedQuote["bodyType"];
  if (version === 3 || version === 4) {
    bodyType = teeType === "tdx" ? "td10" : "sgx";
    if (version === 3 && teeType !== "sgx")
      throw new InvalidInputError("quote.header.version", "v3 quotes are SGX only");
  } else if (version === 5) {
    const t = c.u16("body.type");
    c.u32("body.size");
    if (t === 1) bodyType = "sgx";
    else if (t === 2) bodyType = "td10";
    else if (t === 3) bodyType = "td15";
    else throw new InvalidInputError("quote.body.type", `unknown body type ${t}`);
  } else {
    throw new InvalidInputError("quote.header.version", `unsupported quote version ${version}`);
  }
  const bodyLen = bodyType === "sgx" ? 384 : bodyType === "td10" ? 584 : 648;
  const body = c.bytes(bodyLen, "report body");
  const signedLength = c.off;
  const hex = (o: number, n: number) => bytesToHex(body.subarray(o, o + n));
  const out: ParsedQuote = {
    version,
    teeType,
    attestationKeyType,
    qeVendorId,
    bodyType,
    signedLength,
    reportData: body.slice(bodyType === "sgx" ? 320 : 520, (bodyType === "sgx" ? 320 : 520) + 64),
    certificationDataType: 0,
    pckChain: [],
  };
  if (bodyType === "sgx") {
    out.sgx = {
      attributes: hex(48, 16),
      mrEnclave: hex(64, 32),
      mrSigner: hex(128, 32),
      isvProdId: readU16le(body, 256),
      isvSvn: readU16le(body, 258),
    };
  } else {
    out.td = {
      teeTcbSvn: hex(0, 16),
      mrSeam: hex(16, 48),
      tdAttributes: hex(120, 8),
      xfam: hex(128, 8),
      mrtd: hex(136, 48),
      mrConfigId: hex(184, 48),
      mrOwner: hex(232, 48),
      mrOwnerConfig: hex(280, 48),
      rtmr0: hex(328, 48),
      rtmr1: hex(376, 48),
      rtmr2: hex(424, 48),
      rtmr3: hex(472, 48),
    };
  }
  const authLen = c.u32("authData.size");
  const auth = new Cursor(c.bytes(authLen, "authData"));
  auth.bytes(64, "authData.signature");
  auth.bytes(64, "authData.attestationKey");
  let certType: number;
  let certData: Uint8Array;
  if (version === 3) {
    auth.bytes(384, "authData.qeReport");
    auth.bytes(64, "authData.qeReportSignature");
    auth.bytes(auth.u16("authData.qeAuthData.size"), "authData.qeAuthData");
    certType = auth.u16("authData.certificationData.type");
    certData = auth.bytes(auth.u32("authData.certificationData.size"), "authData.certificationData");
  } else {
    const outerType = auth.u16("authData.certificationData.type");
    const outer = new Cursor(
      auth.bytes(auth.u32("authData.certificationData.size"), "authData.certificationData"),
    );
    if (outerType !== 6)
      throw new InvalidInputError(
        "quote.authData.certificationData.type",
        `expected 6 (QE report certification data), got ${outerType}`,
      );
    outer.bytes(384, "qeReport");
    outer.bytes(64, "qeReportSignature");
    outer.bytes(outer.u16("qeAuthData.size"), "qeAuthData");
    certType = outer.u16("qeCertificationData.type");
    certData = outer.bytes(outer.u32("qeCertificationData.size"), "qeCertificationData");
  }
  out.certificationDataType = certType;
  if (certType === 5) out.pckChain = pemToDers(bytesToUtf8(certData));
  return out;
}
