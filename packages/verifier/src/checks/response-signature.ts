import { blocked, type Check, fail, pass } from "../check.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

const NAME = "response.signature";

/**
 * `response.signature`: the signed text is exactly `hex(sha256(request)):hex(sha256(response))` of the
 * carried bodies, and its EIP-191 signature (secp256k1, low-S) recovers to `enclave_address`.
 */
export function responseSignature(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(NAME);
  if (!ctx.signature) return blocked(NAME, "response.bodies");
  if (p.enclaveAddress === "") return fail(NAME, "signature_mismatch", "the proof names no enclave_address");
  if (!ctx.signature.ok)
    return fail(NAME, "signature_invalid", `the signature does not parse: ${ctx.signature.message}`);
  const r = ctx.signature.value;
  if (!r.ok)
    return fail(
      NAME,
      r.reason,
      r.message,
      r.signer ? { signer: r.signer, enclaveAddress: p.enclaveAddress } : {},
    );
  return pass(
    NAME,
    `EIP-191 signature over "<sha256 request>:<sha256 response>" recovers to the enclave address ${r.signer}`,
    {
      signer: r.signer,
    },
  );
}
