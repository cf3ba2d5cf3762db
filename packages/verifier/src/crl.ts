import { type CollateralAnalysis, chainToRoot } from "./analyze-collateral.js";
import { equalBytes } from "./internal/bytes.js";
import type { ParsedCert } from "./internal/x509.js";
import { type Check, fail, pass, skip } from "./reasons.js";

const NAME = "quote.pck_revocation";

/**
 * Revocation of the quote's PCK chain against CRLs whose signatures were already checked: the PCK leaf must
 * not be on the CRL of *its* issuer (matched by issuer name, and that CRL must be the collateral's PCK CRL),
 * and the PCK CA must not be on the root CA CRL. dcap-qvl only matches serial numbers across all CRLs.
 */
export async function checkPckRevocation(
  analysis: CollateralAnalysis,
  pckChain: ParsedCert[],
  dcapVerifiedChain: boolean,
): Promise<Check> {
  const { pckCrl, rootCrl, pckCrlIssuer, pckCrlChain, root } = analysis;
  if (!pckCrl || !rootCrl || !pckCrlIssuer || !pckCrlChain || !root)
    return skip(NAME, "collateral CRLs unavailable");
  const leaf = pckChain[0];
  if (!leaf) return fail(NAME, "quote_malformed", "quote carries no PCK certificate chain");
  if (!equalBytes(leaf.issuer, pckCrl.issuer)) {
    return fail(
      NAME,
      "crl_issuer_mismatch",
      "the PCK CRL is not issued by the PCK certificate's issuer, so its revocation status is unknown",
    );
  }
  // The CRL signer must chain to the root. When it is byte-identical to the quote's PCK CA, dcap-qvl has just
  // verified that CA against the root; otherwise verify pck_crl_issuer_chain here (once per collateral).
  const sameAsQuoteCa = pckChain[1] !== undefined && equalBytes(pckChain[1].der, pckCrlIssuer.der);
  if (!(sameAsQuoteCa && dcapVerifiedChain)) {
    analysis.pckCrlChainProblem ??= chainToRoot(pckCrlChain, root, "pck_crl_issuer_chain");
    const problem = await analysis.pckCrlChainProblem;
    if (problem) return fail(NAME, "certificate_chain_invalid", problem);
  }
  if (pckCrl.revokedSerials.has(leaf.serialHex)) {
    return fail(NAME, "pck_revoked", `PCK certificate serial ${leaf.serialHex} is on the PCK CRL`, {
      serial: leaf.serialHex,
    });
  }
  const ca = pckChain[1];
  if (ca && equalBytes(ca.issuer, rootCrl.issuer) && rootCrl.revokedSerials.has(ca.serialHex)) {
    return fail(NAME, "pck_revoked", `PCK CA serial ${ca.serialHex} is on the root CA CRL`, {
      serial: ca.serialHex,
    });
  }
  return pass(NAME, "PCK certificate and its CA are not revoked", {
    pckSerial: leaf.serialHex,
    pckCrlEntries: pckCrl.revokedSerials.size,
  });
}
