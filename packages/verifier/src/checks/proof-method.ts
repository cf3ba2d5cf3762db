import { type Check, fail, pass } from "../check.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

/** `proof.method`: a `tee-ml` proof (or unset) signed with ECDSA. */
export function proofMethod(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat("proof.method");
  if (p.method !== "" && p.method !== "tee-ml")
    return fail(
      "proof.method",
      "method_unsupported",
      `method "${p.method}" is not verifiable here (only tee-ml)`,
    );
  if (p.signingAlgo !== "" && p.signingAlgo.toLowerCase() !== "ecdsa")
    return fail(
      "proof.method",
      "signing_algo_unsupported",
      `signing algorithm "${p.signingAlgo}" is not ecdsa`,
    );
  return pass("proof.method", "tee-ml proof signed with ECDSA (secp256k1)");
}
