import { keccak_256 } from "@noble/hashes/sha3.js";
import { type Check, fail, pass } from "../check.js";
import type { ProofContext } from "../proof-context.js";
import { recoverDigestSigner } from "../verify-response-signature.js";
import { deliveryOf } from "./fine-tuning-common.js";
import { claimsKey } from "./response-enclave-pubkey.js";
import { isCheck } from "./tee-common.js";

const NAME = "fine_tuning.tag_signature";

/**
 * `fine_tuning.tag_signature`: the TEE's raw secp256k1 signature over keccak256(tags) (no EIP-191 prefix)
 * recovers to `enclave_address`, and `enclave_pubkey`, when claimed, is that key. The tags authenticate
 * every ciphertext chunk of the delivered model under its key.
 */
export function fineTuningTagSignature(ctx: ProofContext): Check {
  const d = deliveryOf(ctx, NAME);
  if (isCheck(d)) return d;
  const p = ctx.proof.ok ? ctx.proof.value : undefined;
  if (!p || p.enclaveAddress === "")
    return fail(NAME, "signature_mismatch", "the proof names no enclave_address");
  const rec = recoverDigestSigner(keccak_256(d.tags), d.tagSignature);
  if (!rec)
    return fail(
      NAME,
      "tag_signature_invalid",
      "the tag signature does not recover (not 65 bytes, bad v, high-S or invalid point)",
    );
  if (rec.address.toLowerCase() !== p.enclaveAddress.toLowerCase())
    return fail(
      NAME,
      "tag_signature_invalid",
      `the tag signature recovers to ${rec.address}, not the enclave address ${p.enclaveAddress}`,
      {
        signer: rec.address,
      },
    );
  if (p.enclavePubkey !== "" && !claimsKey(p.enclavePubkey, rec.pubkey.slice(2)))
    return fail(
      NAME,
      "enclave_pubkey_mismatch",
      "enclave_pubkey is not the key recovered from the tag signature",
      {
        recovered: rec.pubkey,
      },
    );
  return pass(
    NAME,
    `the signature over keccak256 of the model's GCM tags recovers to the enclave address ${rec.address}`,
    {
      signer: rec.address,
    },
  );
}
