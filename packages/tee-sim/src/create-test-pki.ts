import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import * as der from "./der.js";
import { bytesToHex, deriveBytes, randomSeed, toPem } from "./util.js";

/** OIDs of Intel's SGX PCK certificate extension (1.2.840.113741.1.13.1). */
export const SGX_OIDS = {
  extension: "1.2.840.113741.1.13.1",
  ppid: "1.2.840.113741.1.13.1.1",
  tcb: "1.2.840.113741.1.13.1.2",
  pceId: "1.2.840.113741.1.13.1.3",
  fmspc: "1.2.840.113741.1.13.1.4",
  sgxType: "1.2.840.113741.1.13.1.5",
} as const;

const ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
/** 2020-01-01T00:00:00Z */
const DEFAULT_NOT_BEFORE = 1577836800;
/** 2049-12-31T23:59:59Z */
const DEFAULT_NOT_AFTER = 2524607999;

/** One certificate of the test PKI with its P-256 key. */
export interface TestCert {
  der: Uint8Array;
  pem: string;
  serial: bigint;
  /** Serial as lowercase hex (no 0x), as CRL tooling prints it. */
  serialHex: string;
  /** DER of the subject Name. */
  subject: Uint8Array;
  privateKey: Uint8Array;
  /** Uncompressed SEC1 public key (65 bytes, 0x04 prefix). */
  publicKey: Uint8Array;
  notBefore: number;
  notAfter: number;
}

/** A complete synthetic Intel-DCAP-like PKI. TEST ONLY: never trust its root in production. */
export interface TestPki {
  seed: string;
  /** DER of the test root CA certificate (pass to the verifier's policy or `QuoteVerifier.newWithRootCa`). */
  rootCaDer: Uint8Array;
  rootCaPem: string;
  root: TestCert;
  /** Intermediate CA, the analogue of "Intel SGX PCK Platform CA"; issues the PCK leaf and signs the PCK CRL. */
  pckCa: TestCert;
  /** PCK leaf certificate (carries the SGX extension: FMSPC, PCEID, TCB SVNs); signs the QE report. */
  pck: TestCert;
  /** TCB signing certificate; signs TCB info and QE identity. */
  tcbSigning: TestCert;
  /** PEM chain PCK leaf → PCK CA → root, as embedded in quotes (certification data type 5). */
  pckChainPem: string;
  fmspc: Uint8Array;
  pceId: Uint8Array;
  cpuSvn: Uint8Array;
  pceSvn: number;
  ppid: Uint8Array;
  /** Quoting-enclave identity the QE report is produced for. */
  qe: { mrSigner: Uint8Array; isvProdId: number; isvSvn: number };
  /** The quoting enclave's attestation key (P-256) that signs quotes. */
  attestationKey: { privateKey: Uint8Array; publicKey: Uint8Array };
  /** Deterministic bytes for `label` from the PKI seed. */
  derive(label: string, length: number): Uint8Array;
}

export interface CreateTestPkiParameters {
  /** Deterministic output for the same seed (random when absent). */
  seed?: string | undefined;
  fmspc?: Uint8Array | undefined;
  pceId?: Uint8Array | undefined;
  /** 16 bytes; the SGX TCB components of the platform. */
  cpuSvn?: Uint8Array | undefined;
  pceSvn?: number | undefined;
  /** Validity of every CA and the TCB signing cert (unix seconds). */
  notBefore?: number | undefined;
  notAfter?: number | undefined;
  /** Validity of the PCK leaf only (unix seconds). */
  pckNotBefore?: number | undefined;
  pckNotAfter?: number | undefined;
}

export type CreateTestPkiReturnType = TestPki;

/** An X.501 Name of the test PKI for common name `cn`. */
export function name(cn: string): Uint8Array {
  const attr = (o: string, v: Uint8Array) => der.set(der.seq(der.oid(o), v));
  return der.seq(
    attr("2.5.4.3", der.utf8(cn)),
    attr("2.5.4.10", der.utf8("ChaosChain TEST PKI (not Intel)")),
    attr("2.5.4.7", der.utf8("Nowhere")),
    attr("2.5.4.8", der.utf8("CA")),
    attr("2.5.4.6", der.printable("US")),
  );
}

function ext(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? der.seq(der.oid(id), der.bool(true), der.octets(value))
    : der.seq(der.oid(id), der.octets(value));
}

function spki(publicKey: Uint8Array): Uint8Array {
  return der.seq(der.seq(der.oid("1.2.840.10045.2.1"), der.oid("1.2.840.10045.3.1.7")), der.bits(publicKey));
}

function keyId(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).subarray(0, 20);
}

/** Signs DER `tbs` with ecdsa-with-SHA256 and wraps it as Certificate / CertificateList. */
export function signTbs(tbs: Uint8Array, privateKey: Uint8Array): Uint8Array {
  const sig = p256.sign(tbs, privateKey, { prehash: true, format: "der" });
  return der.seq(tbs, der.seq(der.oid(ECDSA_WITH_SHA256)), der.bits(sig));
}

export interface CertSpec {
  serial: bigint;
  subject: Uint8Array;
  issuer: Uint8Array;
  issuerKey: Uint8Array;
  issuerPublicKey: Uint8Array;
  publicKey: Uint8Array;
  notBefore: number;
  notAfter: number;
  ca: boolean;
  extraExtensions?: Uint8Array[];
}

/** A v3 certificate (ecdsa-with-SHA256) from `spec`, signed with `spec.issuerKey`. */
export function buildCert(spec: CertSpec): Uint8Array {
  const extensions = [
    ext("2.5.29.35", false, der.seq(der.implicitPrimitive(0, keyId(spec.issuerPublicKey)))),
    ext("2.5.29.14", false, der.octets(keyId(spec.publicKey))),
    spec.ca
      ? ext("2.5.29.15", true, der.bits(Uint8Array.of(0x06), 1)) // keyCertSign, cRLSign
      : ext("2.5.29.15", true, der.bits(Uint8Array.of(0xc0), 6)), // digitalSignature, nonRepudiation
    spec.ca ? ext("2.5.29.19", true, der.seq(der.bool(true), der.int(0))) : ext("2.5.29.19", true, der.seq()),
    ...(spec.extraExtensions ?? []),
  ];
  const tbs = der.seq(
    der.explicit(0, der.int(2)),
    der.int(spec.serial),
    der.seq(der.oid(ECDSA_WITH_SHA256)),
    spec.issuer,
    der.seq(der.time(spec.notBefore), der.time(spec.notAfter)),
    spec.subject,
    spki(spec.publicKey),
    der.explicit(3, der.seq(...extensions)),
  );
  return signTbs(tbs, spec.issuerKey);
}

function sgxExtension(p: {
  ppid: Uint8Array;
  cpuSvn: Uint8Array;
  pceSvn: number;
  pceId: Uint8Array;
  fmspc: Uint8Array;
}): Uint8Array {
  const item = (id: string, value: Uint8Array) => der.seq(der.oid(id), value);
  const tcbItems: Uint8Array[] = [];
  for (let i = 0; i < 16; i++)
    tcbItems.push(item(`${SGX_OIDS.tcb}.${i + 1}`, der.int(p.cpuSvn[i] as number)));
  tcbItems.push(item(`${SGX_OIDS.tcb}.17`, der.int(p.pceSvn)));
  tcbItems.push(item(`${SGX_OIDS.tcb}.18`, der.octets(p.cpuSvn)));
  const value = der.seq(
    item(SGX_OIDS.ppid, der.octets(p.ppid)),
    item(SGX_OIDS.tcb, der.seq(...tcbItems)),
    item(SGX_OIDS.pceId, der.octets(p.pceId)),
    item(SGX_OIDS.fmspc, der.octets(p.fmspc)),
    item(SGX_OIDS.sgxType, der.enumerated(0)),
  );
  return ext(SGX_OIDS.extension, false, value);
}

export function keyFor(seed: string, label: string): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = p256.utils.randomSecretKey(
    deriveBytes(seed, `key:${label}`, p256.lengths.seed as number),
  );
  return { privateKey, publicKey: p256.getPublicKey(privateKey, false) };
}

function serialFor(seed: string, label: string): bigint {
  const b = deriveBytes(seed, `serial:${label}`, 16);
  b[0] = ((b[0] as number) & 0x7f) | 0x01;
  return BigInt(`0x${bytesToHex(b)}`);
}

/**
 * Creates a synthetic Intel-DCAP-like PKI (ECDSA P-256): a TEST root CA, a "PCK Platform CA"-like
 * intermediate, a PCK leaf with the SGX extension, a TCB signing certificate and the quoting enclave's
 * attestation key. Deterministic for a given `seed`.
 *
 * @example
 * const pki = createTestPki({ seed: "unit-test" });
 * QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer));
 */
export function createTestPki(opts: CreateTestPkiParameters = {}): CreateTestPkiReturnType {
  const seed = opts.seed ?? randomSeed();
  const derive = (label: string, length: number) => deriveBytes(seed, label, length);
  const notBefore = opts.notBefore ?? DEFAULT_NOT_BEFORE;
  const notAfter = opts.notAfter ?? DEFAULT_NOT_AFTER;

  const make = (
    label: string,
    cn: string,
    issuer: TestCert | "self",
    ca: boolean,
    validity: [number, number],
    extra?: Uint8Array[],
  ): TestCert => {
    const key = keyFor(seed, label);
    const subject = name(cn);
    const serial = serialFor(seed, label);
    const issuerName = issuer === "self" ? subject : issuer.subject;
    const issuerKey = issuer === "self" ? key.privateKey : issuer.privateKey;
    const issuerPublicKey = issuer === "self" ? key.publicKey : issuer.publicKey;
    const certDer = buildCert({
      serial,
      subject,
      issuer: issuerName,
      issuerKey,
      issuerPublicKey,
      publicKey: key.publicKey,
      notBefore: validity[0],
      notAfter: validity[1],
      ca,
      ...(extra ? { extraExtensions: extra } : {}),
    });
    return {
      der: certDer,
      pem: toPem(certDer, "CERTIFICATE"),
      serial,
      serialHex: serial.toString(16),
      subject,
      privateKey: key.privateKey,
      publicKey: key.publicKey,
      notBefore: validity[0],
      notAfter: validity[1],
    };
  };

  const fmspc = opts.fmspc ?? Uint8Array.from([0xb0, 0xc0, 0x6f, 0x00, 0x00, 0x00]);
  const pceId = opts.pceId ?? Uint8Array.of(0, 0);
  const cpuSvn = opts.cpuSvn ?? Uint8Array.from([3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
  const pceSvn = opts.pceSvn ?? 11;
  const ppid = derive("ppid", 16);

  const root = make("root", "ChaosChain TEST SGX Root CA", "self", true, [notBefore, notAfter]);
  const pckCa = make("pck-ca", "ChaosChain TEST SGX PCK Platform CA", root, true, [notBefore, notAfter]);
  const tcbSigning = make("tcb-signing", "ChaosChain TEST SGX TCB Signing", root, false, [
    notBefore,
    notAfter,
  ]);
  const pck = make(
    "pck",
    "ChaosChain TEST SGX PCK Certificate",
    pckCa,
    false,
    [opts.pckNotBefore ?? notBefore, opts.pckNotAfter ?? notAfter],
    [sgxExtension({ ppid, cpuSvn, pceSvn, pceId, fmspc })],
  );
  const attestationKey = keyFor(seed, "attestation-key");

  return {
    seed,
    rootCaDer: root.der,
    rootCaPem: root.pem,
    root,
    pckCa,
    pck,
    tcbSigning,
    pckChainPem: pck.pem + pckCa.pem + root.pem,
    fmspc,
    pceId,
    cpuSvn,
    pceSvn,
    ppid,
    qe: { mrSigner: derive("qe-mrsigner", 32), isvProdId: 2, isvSvn: 4 },
    attestationKey: {
      privateKey: attestationKey.privateKey,
      publicKey: attestationKey.publicKey.subarray(1),
    },
    derive,
  };
}
