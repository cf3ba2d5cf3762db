import { blocked, type Check, fail, pass } from "../check.js";
import { dcapReason } from "../internal/dcap.js";
import { parsed, type QuoteContext, readCollateral } from "../quote-context.js";

const NAME = "quote.signature_chain";

/**
 * `quote.signature_chain`: @phala/dcap-qvl verifies the quote signature by the attestation key, the QE report
 * signature by the PCK key and its binding of that key, the PCK chain, the TCB info and QE identity
 * signatures and chains up to the trusted root, QE identity and TCB level matching, TD attributes. The
 * verifier adds the names along the PCK chain and that its root is the trusted one (dcap-qvl compares
 * signatures only). Both read the very same certificates: the chain was parsed strictly.
 */
export function quoteSignatureChain(ctx: QuoteContext): Check {
  const q = parsed(ctx);
  if (!q) return blocked(NAME, "quote.format");
  const coll = readCollateral(ctx);
  if (!coll || !ctx.dcap) return blocked(NAME, "collateral.integrity");
  const { result, cached, error, reason } = ctx.dcap;
  if (result)
    return pass(
      NAME,
      "quote signed by the attestation key, QE report by the PCK key; PCK chain, TCB info and QE identity verify to the trusted root",
      { cached },
    );
  const message = error ?? "unknown";
  let r = reason ?? dcapReason(message);
  // dcap-qvl matches serials across all CRLs; name the PCK leaf when it is the one on the PCK CRL.
  if (
    r === "certificate_revoked" &&
    coll.analysis.pckCrl?.revokedSerials.has((q.pckChain[0] ?? { serialHex: "" }).serialHex)
  )
    r = "pck_revoked";
  return fail(NAME, r, reason ? message : `dcap-qvl: ${message}`);
}
