import { InputTooLargeError, InvalidInputError } from "./errors/input.js";
import { bytesToHex, hexToBytesStrict, isBytes, readU16le, readU32le } from "./internal/bytes.js";
import { type PemError, parsePemChain } from "./internal/pem.js";
import { LIMITS } from "./limits.js";

/** Fields of an Intel DCAP quote (SGX v3, TDX v4/v5), measurements as lowercase hex. */
export interface ParsedQuote {
  version: number;
  teeType: "tdx" | "sgx";
  attestationKeyType: number;
  /** hex, uppercase */
  qeVendorId: string;
  bodyType: "td10" | "td15" | "sgx";
  /** Length of the signed region (header [+ body descriptor] + report body). */
  signedLength: number;
  /** 64 bytes. */
  reportData: Uint8Array;
  td?: {
    teeTcbSvn: string;
    mrSeam: string;
    /** Signer of the TDX module: zero for Intel's. */
    mrSignerSeam: string;
    seamAttributes: string;
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
  /** DER certificates of the PCK chain, leaf → CA → root, when the type is 5; else []. */
  pckChain: Uint8Array[];
}

export type ParseQuoteErrorType = InvalidInputError;

const TEE_TDX = 0x81;

class Cursor {
  constructor(
    readonly b: Uint8Array,
    readonly what: string,
    public off = 0,
  ) {}
  need(n: number, field: string) {
    if (this.off + n > this.b.length)
      throw new InvalidInputError(
        "quote",
        `truncated while reading ${field} at byte ${this.off} of ${this.what}`,
      );
  }
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  u16(field: string): number {
    this.need(2, field);
    const v = readU16le(this.b, this.off);
    this.off += 2;
    return v;
  }
  u32(field: string): number {
    this.need(4, field);
    const v = readU32le(this.b, this.off);
    this.off += 4;
    return v;
  }
  /** The structure must end exactly here. */
  done(): void {
    if (this.off !== this.b.length)
      throw new InvalidInputError(
        "quote",
        `${this.b.length - this.off} unexpected bytes at the end of ${this.what}`,
      );
  }
}

/** Quote bytes from bytes or hex text (`0x` optional). */
export function toQuoteBytes(quote: Uint8Array | string, field = "quote"): Uint8Array {
  if (isBytes(quote)) return quote;
  if (typeof quote === "string") return hexToBytesStrict(quote, field);
  throw new InvalidInputError(field, "expected bytes or a hex string");
}

/** The QE report block shared by both auth data layouts; returns the innermost certification data. */
function qeBlock(c: Cursor): { type: number; data: Uint8Array } {
  c.bytes(384, "qeReport");
  c.bytes(64, "qeReportSignature");
  c.bytes(c.u16("qeAuthData.size"), "qeAuthData");
  const type = c.u16("certificationData.type");
  return { type, data: c.bytes(c.u32("certificationData.size"), "certificationData") };
}

/**
 * Parses an Intel DCAP quote strictly (no cryptography): every length must be consistent, the auth data
 * and certification data must be consumed exactly (only zero padding may follow the auth data), and a
 * type-5 PCK chain must be exactly three certificates (leaf, CA, root) in strict PEM, the form in which
 * @phala/dcap-qvl reads the same certificates. Throws {@link InvalidInputError} naming the problem.
 *
 * @example
 * const q = parseQuote(quoteBytes); q.td?.mrtd
 */
export function parseQuote(quote: Uint8Array | string): ParsedQuote {
  const b = toQuoteBytes(quote);
  if (b.length > LIMITS.quoteBytes) throw new InputTooLargeError("quote", b.length, LIMITS.quoteBytes);
  const c = new Cursor(b, "the quote");
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
    const size = c.u32("body.size");
    if (t === 1) bodyType = "sgx";
    else if (t === 2) bodyType = "td10";
    else if (t === 3) bodyType = "td15";
    else throw new InvalidInputError("quote.body.type", `unknown body type ${t}`);
    const expected = t === 1 ? 384 : t === 2 ? 584 : 648;
    if (size !== expected)
      throw new InvalidInputError("quote.body.size", `${size} for a body of ${expected} bytes`);
  } else {
    throw new InvalidInputError("quote.header.version", `unsupported quote version ${version}`);
  }
  const bodyLen = bodyType === "sgx" ? 384 : bodyType === "td10" ? 584 : 648;
  const body = c.bytes(bodyLen, "report body");
  const signedLength = c.off;
  const hex = (o: number, n: number) => bytesToHex(body.subarray(o, o + n));
  const rdAt = bodyType === "sgx" ? 320 : 520;
  const out: ParsedQuote = {
    version,
    teeType,
    attestationKeyType,
    qeVendorId,
    bodyType,
    signedLength,
    reportData: body.slice(rdAt, rdAt + 64),
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
      mrSignerSeam: hex(64, 48),
      seamAttributes: hex(112, 8),
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
  const auth = new Cursor(c.bytes(c.u32("authData.size"), "authData"), "the auth data");
  const padding = b.subarray(c.off);
  if (padding.length > LIMITS.quotePaddingBytes || padding.some((x) => x !== 0))
    throw new InvalidInputError(
      "quote",
      `${padding.length} bytes after the auth data that are not zero padding`,
    );
  auth.bytes(64, "authData.signature");
  auth.bytes(64, "authData.attestationKey");
  let cert: { type: number; data: Uint8Array };
  if (version === 3) cert = qeBlock(auth);
  else {
    const outerType = auth.u16("authData.certificationData.type");
    if (outerType !== 6)
      throw new InvalidInputError(
        "quote.authData.certificationData.type",
        `expected 6 (QE report certification data), got ${outerType}`,
      );
    const outer = new Cursor(
      auth.bytes(auth.u32("authData.certificationData.size"), "authData.certificationData"),
      "the QE report certification data",
    );
    cert = qeBlock(outer);
    outer.done();
  }
  auth.done();
  out.certificationDataType = cert.type;
  if (cert.type === 5) {
    if (cert.data.length > LIMITS.certificationDataBytes)
      throw new InputTooLargeError(
        "quote.certificationData",
        cert.data.length,
        LIMITS.certificationDataBytes,
      );
    try {
      out.pckChain = parsePemChain(cert.data);
    } catch (e) {
      throw new InvalidInputError(
        "quote.certificationData",
        `not a strict PEM chain: ${(e as PemError).message}`,
      );
    }
    if (out.pckChain.length !== 3)
      throw new InvalidInputError(
        "quote.certificationData",
        `${out.pckChain.length} certificates; a PCK chain is exactly leaf, CA and root`,
      );
  }
  return out;
}
