import { type Check, fail, pass } from "../check.js";
import { bytesToHex } from "../internal/bytes.js";
import type { NormalizedFineTuningDelivery, NormalizedProof } from "../normalize-proof.js";
import type { ProofContext } from "../proof-context.js";
import {
  deliveryOf,
  ENCRYPTED_SECRET_BYTES,
  GCM_TAG_BYTES,
  MODEL_CHUNK_BYTES,
  MODEL_HEADER_BYTES,
} from "./fine-tuning-common.js";
import { isCheck } from "./tee-common.js";

const NAME = "fine_tuning.delivery";
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sha256Hex = /^[0-9a-f]{64}$/;
const addressHex = /^0x[0-9a-fA-F]{40}$/;
const decimal = /^\d{1,78}$/;

/** The first inconsistency of a delivery with itself and with the proof around it, if any. */
function problem(d: NormalizedFineTuningDelivery, p: NormalizedProof): string | undefined {
  if (!uuid.test(d.taskId)) return "task_id is not a UUID";
  if (p.chatId !== "" && p.chatId !== d.taskId) return "chat_id is not the task id";
  if (d.modelRootHash.length !== 32) return `model_root_hash is ${d.modelRootHash.length} bytes, not 32`;
  if (d.tagSignature.length !== 65) return `tag_signature is ${d.tagSignature.length} bytes, not 65`;
  if (d.tags.length === 0 || d.tags.length % GCM_TAG_BYTES !== 0)
    return `tags is ${d.tags.length} bytes, not a positive multiple of ${GCM_TAG_BYTES}`;
  // AES-GCM ciphertext is as long as its plaintext: the encrypted file's size fixes the model's.
  const chunks = BigInt(d.tags.length / GCM_TAG_BYTES);
  const plaintext = d.encryptedSize - MODEL_HEADER_BYTES - chunks * BigInt(GCM_TAG_BYTES);
  if (plaintext <= (chunks - 1n) * MODEL_CHUNK_BYTES || plaintext > chunks * MODEL_CHUNK_BYTES)
    return `encrypted_size ${d.encryptedSize} does not hold ${chunks} chunk(s) of up to 64 MiB`;
  if (d.artifactSize !== plaintext)
    return `artifact_size ${d.artifactSize} is not the encrypted model's plaintext size ${plaintext}`;
  if (!sha256Hex.test(d.artifactSha256)) return "artifact_sha256 is not 64 lowercase hex digits";
  if (p.executionHash !== "" && p.executionHash.replace(/^0x/, "").toLowerCase() !== d.artifactSha256)
    return "execution_hash is not artifact_sha256";
  if (p.signature !== "" && p.signature.toLowerCase() !== `0x${bytesToHex(d.tagSignature)}`)
    return "signature is not the tag signature";
  if (d.encryptedSecret.length !== ENCRYPTED_SECRET_BYTES)
    return `encrypted_secret is ${d.encryptedSecret.length} bytes, not an ECIES-encrypted 32-byte key (${ENCRYPTED_SECRET_BYTES})`;
  if (!addressHex.test(d.userAddress)) return "user_address is not an address";
  if (d.datasetSha256 !== "" && !sha256Hex.test(d.datasetSha256))
    return "dataset_sha256 is not 64 lowercase hex digits";
  if (d.settlementSignature.length > 0) {
    if (!addressHex.test(d.fineTuningContract)) return "fine_tuning_contract is not an address";
    if (!decimal.test(d.settlementNonce) || !decimal.test(d.taskFeeNeuron))
      return "settlement_nonce and task_fee_neuron must be decimal integers";
  }
  return undefined;
}

/**
 * `fine_tuning.delivery`: the delivery is consistent with itself and the proof: a UUID task id (= chat_id),
 * a 32-byte model root hash, 16-byte GCM tags whose count fits the encrypted size, the artifact's size equal
 * to the plaintext that encrypted size holds, `execution_hash` = `artifact_sha256`, `signature` = the tag
 * signature, a 129-byte ECIES secret, and well-formed addresses and settlement numbers.
 */
export function fineTuningDelivery(ctx: ProofContext): Check {
  const d = deliveryOf(ctx, NAME);
  if (isCheck(d)) return d;
  const p = ctx.proof.ok ? ctx.proof.value : undefined;
  if (!p) return fail(NAME, "proof_malformed", "no proof");
  const wrong = problem(d, p);
  if (wrong) return fail(NAME, "delivery_inconsistent", wrong, { taskId: d.taskId });
  return pass(
    NAME,
    `task ${d.taskId}: ${d.tags.length / GCM_TAG_BYTES} chunk(s), ${d.artifactSize} bytes of model`,
    {
      taskId: d.taskId,
      chunks: d.tags.length / GCM_TAG_BYTES,
      artifactSize: d.artifactSize.toString(),
    },
  );
}
