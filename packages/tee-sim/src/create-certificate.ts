import { p256 } from "@noble/curves/nist.js";
import { buildCert, keyFor, type TestCert } from "./create-test-pki.js";
import { bytesToHex, toPem } from "./util.js";

export interface CreateCertificateParameters {
  /** DER of the subject Name (e.g. the subject of a real Intel CA, to impersonate it). */
  subject: Uint8Array;
  /** DER of the issuer Name. */
  issuer: Uint8Array;
  /** P-256 key that signs the certificate (default: the new certificate's own key, i.e. self-signed). */
  signingKey?: Uint8Array | undefined;
  /** Seed of the certificate's own key and serial. */
  seed: string;
  serial?: bigint | undefined;
  ca?: boolean | undefined;
  notBefore?: number | undefined;
  notAfter?: number | undefined;
}

/**
 * A certificate with any subject and issuer names, signed by any key: the building block of forged-CA
 * attacks (a CA carrying a real CA's name under a key the attacker holds). TEST ONLY.
 *
 * @example
 * const forged = createCertificate({ subject: intelPckCa.subject, issuer: intelRoot.subject, seed: "forged", ca: true });
 */
export function createCertificate(p: CreateCertificateParameters): TestCert {
  const key = keyFor(p.seed, "forged-certificate");
  const serial = p.serial ?? BigInt(`0x7${bytesToHex(key.publicKey.subarray(1, 16))}`);
  const notBefore = p.notBefore ?? 1577836800;
  const notAfter = p.notAfter ?? 2524607999;
  const der = buildCert({
    serial,
    subject: p.subject,
    issuer: p.issuer,
    issuerKey: p.signingKey ?? key.privateKey,
    issuerPublicKey: p.signingKey ? p256.getPublicKey(p.signingKey, false) : key.publicKey,
    publicKey: key.publicKey,
    notBefore,
    notAfter,
    ca: p.ca ?? false,
  });
  return {
    der,
    pem: toPem(der, "CERTIFICATE"),
    serial,
    serialHex: serial.toString(16),
    subject: p.subject,
    privateKey: key.privateKey,
    publicKey: key.publicKey,
    notBefore,
    notAfter,
  };
}
