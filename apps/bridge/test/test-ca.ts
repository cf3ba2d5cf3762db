import { webcrypto } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @peculiar/x509 (through tsyringe) needs the Reflect metadata API.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key as webcrypto.CryptoKey));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/.{64}/g, "$&\n")}\n-----END PRIVATE KEY-----\n`;
}

/** A CA made for one test run (never trusted elsewhere): its certificate, and leaf certificates it signs. */
export interface TestCa {
  certPem: string;
  /** A server certificate for `localhost` and 127.0.0.1 (or `names`), with its key, written to files. */
  issue(names?: string[]): Promise<{ certFile: string; keyFile: string; certPem: string; keyPem: string }>;
}

/** Creates a CA (ECDSA P-256) in memory, valid from an hour ago for a day. */
export async function createTestCa(commonName = "zerog test CA"): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    "sign",
    "verify",
  ])) as unknown as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=${commonName}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), "zerog-tls-"));
  let serial = 1;
  return {
    certPem: ca.toString("pem"),
    async issue(names = ["localhost", "127.0.0.1"]) {
      const leafKeys = (await webcrypto.subtle.generateKey(algorithm, true, [
        "sign",
        "verify",
      ])) as unknown as CryptoKeyPair;
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: (++serial).toString(16).padStart(2, "0"),
        subject: `CN=${names[0]}`,
        issuer: ca.subject,
        notBefore,
        notAfter,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: algorithm,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
          new x509.SubjectAlternativeNameExtension(
            names.map((n) =>
              /^[\d.]+$/.test(n) ? { type: "ip" as const, value: n } : { type: "dns" as const, value: n },
            ),
          ),
          await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      const certPem = leaf.toString("pem");
      const keyPem = await pkcs8Pem(leafKeys.privateKey);
      const certFile = join(dir, `server-${serial}.pem`);
      const keyFile = join(dir, `server-${serial}-key.pem`);
      writeFileSync(certFile, certPem);
      writeFileSync(keyFile, keyPem, { mode: 0o600 });
      return { certFile, keyFile, certPem, keyPem };
    },
  };
}
