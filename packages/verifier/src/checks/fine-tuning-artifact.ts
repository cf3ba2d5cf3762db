import { type Check, skip } from "../check.js";
import type { ProofContext } from "../proof-context.js";
import { deliveryOf } from "./fine-tuning-common.js";
import { isCheck } from "./tee-common.js";

const NAME = "fine_tuning.artifact";

/**
 * `fine_tuning.artifact`: always skipped offline. That the decrypted model (artifact_sha256) is the TEE's
 * ciphertext under the key it published needs the encrypted model and the wallet key, which no proof
 * carries; the key's holder checks it (the bridge does, every GCM tag, before it returns a result).
 */
export function fineTuningArtifact(ctx: ProofContext): Check {
  const d = deliveryOf(ctx, NAME);
  if (isCheck(d)) return d;
  return skip(
    NAME,
    "not_checkable_offline",
    `that the model with sha256 ${d.artifactSha256} (${d.artifactSize} bytes) decrypts from the delivery needs the encrypted model and the wallet key, which a proof does not carry`,
    { artifactSha256: d.artifactSha256 },
  );
}
