import { type Check, type CheckName, skip } from "../check.js";
import type { NormalizedFineTuningDelivery } from "../normalize-proof.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

/** The proof's fine-tuning delivery for a fine-tuning step, or the check that says why the step cannot run. */
export function deliveryOf(ctx: ProofContext, name: CheckName): NormalizedFineTuningDelivery | Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(name);
  return p.fineTuning ?? skip(name, "not_applicable", "not a fine-tuning proof");
}

/** AES-GCM layout of a delivered model: tag signature (65) ‖ IV (12), then per 64 MiB chunk ciphertext ‖ tag (16). */
export const MODEL_HEADER_BYTES = 77n;
export const MODEL_CHUNK_BYTES = 64n * 1024n * 1024n;
export const GCM_TAG_BYTES = 16;
/** eciesjs (secp256k1, AES-256-GCM) of a 32-byte key: ephemeral key 65 ‖ nonce 16 ‖ tag 16 ‖ 32. */
export const ENCRYPTED_SECRET_BYTES = 129;
