import { bytesToHex } from "./bytes.js";
import { sha256 } from "./sha256.js";
import { commonName, type ParsedCert, parseCertificate } from "./x509.js";

function describe(der: Uint8Array, subject?: Uint8Array): string {
  let cn: string | undefined;
  try {
    cn = commonName(subject ?? parseCertificate(der).subject);
  } catch {
    // not a certificate: named by its hash only
  }
  return `${cn ? `"${cn}" ` : ""}(sha256 ${bytesToHex(sha256(der)).slice(0, 16)}…)`;
}

/**
 * Why a chain that ends in `presented` (DER) is refused under the trust anchor `trusted`: both roots named,
 * and what to do when the other root is legitimately yours (a devnet's or test PKI's).
 */
export function untrustedRootMessage(what: string, presented: Uint8Array, trusted: ParsedCert): string {
  return `${what} chains to an untrusted root CA ${describe(presented)}, not the policy's trust anchor ${describe(trusted.der, trusted.subject)}; a proof from another PKI (e.g. a devnet's synthetic test root) verifies only under a policy that trusts that root (tee.rootCaPem)`;
}
