import { blocked, type Check, fail, pass } from "../check.js";
import { equalBytes } from "../internal/bytes.js";
import { parsed, type QuoteContext, readCollateral } from "../quote-context.js";

const NAME = "quote.pck_revocation";

/**
 * `quote.pck_revocation`: the PCK leaf is not on the CRL of its own issuer (matched by name: that CRL must be
 * the collateral's PCK CRL), and the PCK CA is not on the root CA CRL. Both CRLs were verified up to the
 * trusted root by `collateral.integrity`, which this step needs.
 */
export function quotePckRevocation(ctx: QuoteContext): Check {
  const q = parsed(ctx);
  if (!q) return blocked(NAME, "quote.format");
  const coll = readCollateral(ctx);
  const { pckCrl, rootCrl } = coll?.analysis ?? {};
  if (coll?.analysis.integrity.status !== "pass" || !pckCrl || !rootCrl)
    return blocked(NAME, "collateral.integrity");
  const [leaf, ca] = q.pckChain;
  if (!leaf || !ca) return blocked(NAME, "quote.format");
  if (!equalBytes(leaf.issuer, pckCrl.issuer))
    return fail(
      NAME,
      "crl_issuer_mismatch",
      "the PCK CRL is not issued by the PCK certificate's issuer, so its revocation status is unknown",
    );
  if (pckCrl.revokedSerials.has(leaf.serialHex))
    return fail(NAME, "pck_revoked", `PCK certificate serial ${leaf.serialHex} is on the PCK CRL`, {
      serial: leaf.serialHex,
    });
  if (equalBytes(ca.issuer, rootCrl.issuer) && rootCrl.revokedSerials.has(ca.serialHex))
    return fail(NAME, "pck_revoked", `PCK CA serial ${ca.serialHex} is on the root CA CRL`, {
      serial: ca.serialHex,
    });
  return pass(NAME, "PCK certificate and its CA are not revoked", {
    pckSerial: leaf.serialHex,
    pckCrlEntries: pckCrl.revokedSerials.size,
  });
}
