import { p256 } from "@noble/curves/nist.js";
import { bytesToHex, equalBytes } from "./bytes.js";
import { children, DerError, decodeOid, decodeTime, expectTag, integerHex, readNode } from "./der.js";

const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_SGX_EXTENSION = "1.2.840.113741.1.13.1";

export interface ParsedCert {
  der: Uint8Array;
  tbs: Uint8Array;
  serialHex: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** DER SubjectPublicKeyInfo */
  spki: Uint8Array;
  /** SEC1 uncompressed point */
  publicKey: Uint8Array;
  sigAlg: string;
  signature: Uint8Array;
  extensions: Map<string, Uint8Array>;
  isCa: boolean;
}

export interface ParsedCrl {
  der: Uint8Array;
  tbs: Uint8Array;
  issuer: Uint8Array;
  thisUpdate: number;
  nextUpdate: number | undefined;
  revokedSerials: Set<string>;
  sigAlg: string;
  signature: Uint8Array;
}

function whole(der: Uint8Array, what: string) {
  const node = expectTag(readNode(der), 0x30, what);
  if (node.end !== der.length) throw new DerError(`${what}: ${der.length - node.end} bytes after the DER`);
  return node;
}

/** Parses a DER X.509 certificate (no trailing bytes). Throws {@link DerError}. */
export function parseCertificate(der: Uint8Array): ParsedCert {
  const cert = whole(der, "Certificate");
  const [tbsNode, algNode, sigNode] = children(cert);
  const tbsSeq = expectTag(tbsNode, 0x30, "TBSCertificate");
  const t = children(tbsSeq);
  let i = 0;
  if (t[0]?.tag === 0xa0) i++;
  const serial = expectTag(t[i++], 0x02, "serialNumber");
  i++; // signature algorithm (inner)
  const issuer = expectTag(t[i++], 0x30, "issuer");
  const validity = children(expectTag(t[i++], 0x30, "validity"));
  const subject = expectTag(t[i++], 0x30, "subject");
  const spki = expectTag(t[i++], 0x30, "subjectPublicKeyInfo");
  const spkiBits = expectTag(children(spki)[1], 0x03, "subjectPublicKey");
  const extensions = new Map<string, Uint8Array>();
  let isCa = false;
  for (; i < t.length; i++) {
    const n = t[i] as (typeof t)[number];
    if (n.tag !== 0xa3) continue;
    for (const ext of children(expectTag(children(n)[0], 0x30, "extensions"))) {
      const parts = children(ext);
      const id = decodeOid(expectTag(parts[0], 0x06, "extnID").content);
      const value = expectTag(parts[parts.length - 1], 0x04, "extnValue").content;
      extensions.set(id, value);
      if (id === "2.5.29.19") {
        const bc = children(readNode(value));
        isCa = bc[0]?.tag === 0x01 && bc[0].content[0] !== 0;
      }
    }
  }
  const alg = children(expectTag(algNode, 0x30, "signatureAlgorithm"));
  const sigBits = expectTag(sigNode, 0x03, "signatureValue");
  return {
    der: cert.raw,
    tbs: tbsSeq.raw,
    serialHex: integerHex(serial.content),
    issuer: issuer.raw,
    subject: subject.raw,
    notBefore: decodeTime(validity[0] as never),
    notAfter: decodeTime(validity[1] as never),
    spki: spki.raw,
    publicKey: spkiBits.content.subarray(1),
    sigAlg: decodeOid(expectTag(alg[0], 0x06, "algorithm").content),
    signature: sigBits.content.subarray(1),
    extensions,
    isCa,
  };
}

/** Parses a DER CRL (no trailing bytes). Throws {@link DerError}. */
export function parseCrl(der: Uint8Array): ParsedCrl {
  const crl = whole(der, "CertificateList");
  const [tbsNode, algNode, sigNode] = children(crl);
  const tbsSeq = expectTag(tbsNode, 0x30, "TBSCertList");
  const t = children(tbsSeq);
  let i = 0;
  if (t[0]?.tag === 0x02) i++;
  i++; // signature algorithm
  const issuer = expectTag(t[i++], 0x30, "issuer");
  const thisUpdate = decodeTime(t[i++] as never);
  let nextUpdate: number | undefined;
  if (t[i] && (t[i]?.tag === 0x17 || t[i]?.tag === 0x18)) nextUpdate = decodeTime(t[i++] as never);
  const revokedSerials = new Set<string>();
  if (t[i]?.tag === 0x30) {
    for (const entry of children(t[i++] as never)) {
      revokedSerials.add(integerHex(expectTag(children(entry)[0], 0x02, "userCertificate").content));
    }
  }
  const alg = children(expectTag(algNode, 0x30, "signatureAlgorithm"));
  return {
    der: crl.raw,
    tbs: tbsSeq.raw,
    issuer: issuer.raw,
    thisUpdate,
    nextUpdate,
    revokedSerials,
    sigAlg: decodeOid(expectTag(alg[0], 0x06, "algorithm").content),
    signature: expectTag(sigNode, 0x03, "signature").content.subarray(1),
  };
}

/** DER ECDSA signature → 64-byte r ‖ s (P1363), or undefined if malformed. */
function derSigToRaw(sig: Uint8Array): Uint8Array | undefined {
  try {
    const seq = children(expectTag(readNode(sig), 0x30, "sig"));
    const out = new Uint8Array(64);
    for (let k = 0; k < 2; k++) {
      let c = expectTag(seq[k], 0x02, "int").content;
      while (c.length > 32 && c[0] === 0) c = c.subarray(1);
      if (c.length > 32) return undefined;
      out.set(c, 32 * k + (32 - c.length));
    }
    return out;
  } catch {
    return undefined;
  }
}

const subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle;
const keyCache = new Map<string, Promise<CryptoKey>>();

/**
 * Verifies an ecdsa-with-SHA256 signature (DER) over `data` with a P-256 SPKI. Uses WebCrypto when
 * available (Node ≥ 20, browsers in secure contexts) and @noble/curves otherwise. Never throws.
 */
export async function verifyP256(
  spki: Uint8Array,
  publicKey: Uint8Array,
  data: Uint8Array,
  derSignature: Uint8Array,
  sigAlg = OID_ECDSA_SHA256,
): Promise<boolean> {
  if (sigAlg !== OID_ECDSA_SHA256) return false;
  const raw = derSigToRaw(derSignature);
  return raw ? verifyP256Raw(spki, publicKey, data, raw) : false;
}

/** {@link verifyP256} for a raw 64-byte r ‖ s signature (Intel's TCB info and QE identity signatures). */
export async function verifyP256Raw(
  spki: Uint8Array,
  publicKey: Uint8Array,
  data: Uint8Array,
  raw: Uint8Array,
): Promise<boolean> {
  if (raw.length !== 64) return false;
  if (subtle) {
    try {
      const id = bytesToHex(spki);
      let key = keyCache.get(id);
      if (!key) {
        key = subtle.importKey(
          "spki",
          spki as Uint8Array<ArrayBuffer>,
          { name: "ECDSA", namedCurve: "P-256" },
          false,
          ["verify"],
        );
        keyCache.set(id, key);
        if (keyCache.size > 256) keyCache.delete(keyCache.keys().next().value as string);
      }
      return await subtle.verify(
        { name: "ECDSA", hash: "SHA-256" },
        await key,
        raw as Uint8Array<ArrayBuffer>,
        data as Uint8Array<ArrayBuffer>,
      );
    } catch {
      // fall through to noble
    }
  }
  try {
    return p256.verify(raw, data, publicKey, { prehash: true, lowS: false });
  } catch {
    return false;
  }
}

/** True when `cert` is signed by `issuer` and its issuer name is `issuer`'s subject. */
export async function isSignedBy(cert: ParsedCert | ParsedCrl, issuer: ParsedCert): Promise<boolean> {
  if (!equalBytes(cert.issuer, issuer.subject)) return false;
  return verifyP256(issuer.spki, issuer.publicKey, cert.tbs, cert.signature, cert.sigAlg);
}

/** The first common name (2.5.4.3) of a DER X.501 Name, as text; undefined when it has none. */
export function commonName(name: Uint8Array): string | undefined {
  try {
    for (const rdn of children(readNode(name))) {
      for (const atv of children(rdn)) {
        const [type, value] = children(atv);
        if (type && value && decodeOid(expectTag(type, 0x06, "type").content) === "2.5.4.3")
          return new TextDecoder().decode(value.content);
      }
    }
  } catch {
    // no readable name
  }
  return undefined;
}

export interface SgxExtension {
  pceId: string;
  fmspc: string;
}

/** PCEID and FMSPC from a PCK certificate's SGX extension (hex, uppercase). */
export function sgxExtension(cert: ParsedCert): SgxExtension {
  const ext = cert.extensions.get(OID_SGX_EXTENSION);
  if (!ext) throw new DerError("PCK certificate has no SGX extension");
  let pceId: string | undefined;
  let fmspc: string | undefined;
  for (const item of children(readNode(ext))) {
    const [oidNode, value] = children(item);
    const id = decodeOid(expectTag(oidNode, 0x06, "oid").content);
    if (id === `${OID_SGX_EXTENSION}.3`)
      pceId = bytesToHex(expectTag(value, 0x04, "pceid").content).toUpperCase();
    if (id === `${OID_SGX_EXTENSION}.4`)
      fmspc = bytesToHex(expectTag(value, 0x04, "fmspc").content).toUpperCase();
  }
  if (!pceId || !fmspc) throw new DerError("SGX extension lacks PCEID or FMSPC");
  return { pceId, fmspc };
}
