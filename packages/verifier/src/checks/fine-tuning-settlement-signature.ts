import { type Check, fail, pass, skip } from "../check.js";
import { fineTuningSettlementDigest } from "../fine-tuning-settlement-digest.js";
import type { ProofContext } from "../proof-context.js";
import { recoverDigestSigner } from "../verify-response-signature.js";
import { deliveryOf } from "./fine-tuning-common.js";
import { isCheck } from "./tee-common.js";

const NAME = "fine_tuning.settlement_signature";

/**
 * `fine_tuning.settlement_signature`: the TEE's EIP-712 signature of the provider's settlement
 * (`VerifierMessage` over task id, encrypted model key, model root hash, nonce, fee and user, in the
 * FineTuningServing domain of `chain_id`) recovers to `enclave_address`. It binds the model root hash and
 * the encrypted key to the attested enclave. Skipped when the proof carries none (the bridge did not find
 * the settlement transaction).
 */
export function fineTuningSettlementSignature(ctx: ProofContext): Check {
  const d = deliveryOf(ctx, NAME);
  if (isCheck(d)) return d;
  const p = ctx.proof.ok ? ctx.proof.value : undefined;
  if (!p || p.enclaveAddress === "")
    return fail(NAME, "signature_mismatch", "the proof names no enclave_address");
  if (d.settlementSignature.length === 0)
    return skip(
      NAME,
      "not_required",
      "the proof carries no settlement signature: the model root hash and encrypted key are not signed by the enclave here",
    );
  let digest: Uint8Array;
  try {
    digest = fineTuningSettlementDigest({
      chainId: p.chainId,
      fineTuningContract: d.fineTuningContract,
      id: d.taskId,
      encryptedSecret: d.encryptedSecret,
      modelRootHash: d.modelRootHash,
      nonce: BigInt(d.settlementNonce),
      taskFee: BigInt(d.taskFeeNeuron),
      user: d.userAddress,
    });
  } catch {
    return fail(
      NAME,
      "settlement_signature_invalid",
      "the settlement's fields are malformed (see fine_tuning.delivery)",
    );
  }
  const rec = recoverDigestSigner(digest, d.settlementSignature);
  if (!rec) return fail(NAME, "settlement_signature_invalid", "the settlement signature does not recover");
  if (rec.address.toLowerCase() !== p.enclaveAddress.toLowerCase())
    return fail(
      NAME,
      "settlement_signature_invalid",
      `the settlement signature over this delivery recovers to ${rec.address}, not the enclave address ${p.enclaveAddress}`,
      { signer: rec.address },
    );
  return pass(
    NAME,
    `the enclave ${rec.address} signed the settlement of task ${d.taskId}: its model root hash, encrypted key and fee ${d.taskFeeNeuron}`,
    { signer: rec.address, settlementTxHash: d.settlementTxHash },
  );
}
