import { create } from "@bufbuild/protobuf";
import { type ComputeProof, ComputeProofSchema, FineTuningDeliverySchema } from "@chaoschain/zerog-core";
import { getAddress, getBytes, hexlify } from "ethers";
import { providerEvidence, type QuoteCollateralBytes } from "../proof.js";
import type { ProviderAttestation } from "../provider-http.js";
import type { FineTuningService, Settlement } from "./fine-tuning-contract.js";

export interface FineTuningProofInput {
  service: FineTuningService;
  attestation: ProviderAttestation;
  /** The Intel collateral the quote was checked against, embedded byte for byte (`tee.collateral`). */
  collateral?: QuoteCollateralBytes | undefined;
  chainId: bigint;
  fineTuningContract: string;
  /** Unix seconds at which the bridge checked the delivery. */
  timestamp: number;
  baseModel: string;
  baseModelHash: string;
  taskId: string;
  datasetHash: string;
  datasetSha256: string;
  trainingParams: string;
  modelRootHash: string;
  encryptedSize: number;
  tags: Uint8Array;
  tagSignature: Uint8Array;
  /** The TEE key recovered from the tag signature (0x04…). */
  enclavePubkey: string;
  encryptedSecret: string;
  settlement: Settlement | undefined;
  user: string;
  artifact: { sha256: string; size: number };
}

/**
 * The proof of a fine-tuning job: the provider's attestation (as for inference) and a `FineTuningDelivery`
 * binding the decrypted model to the TEE's tag and settlement signatures (see the contract's comments for
 * how each field reads).
 */
export function buildFineTuningProof(input: FineTuningProofInput): ComputeProof {
  const { service, settlement } = input;
  const evidence = providerEvidence(input.attestation, service.teeSignerAddress, "", input.collateral);
  return create(ComputeProofSchema, {
    method: "tee-ml",
    dockerDigest: evidence.dockerDigest,
    enclavePubkey: input.enclavePubkey,
    attestation: evidence.quote,
    executionHash: input.artifact.sha256,
    signature: hexlify(input.tagSignature),
    timestamp: BigInt(input.timestamp),
    enclaveAddress: getAddress(service.teeSignerAddress),
    signingAlgo: "ecdsa",
    providerAddress: getAddress(service.provider),
    chatId: input.taskId,
    model: input.baseModel,
    serviceUrl: service.url,
    chainId: input.chainId,
    tee: evidence.tee,
    ...(evidence.gpu ? { gpu: evidence.gpu } : {}),
    fineTuning: create(FineTuningDeliverySchema, {
      taskId: input.taskId,
      baseModelHash: input.baseModelHash,
      datasetHash: input.datasetHash,
      datasetSha256: input.datasetSha256,
      trainingParams: input.trainingParams,
      modelRootHash: getBytes(input.modelRootHash),
      encryptedSize: BigInt(input.encryptedSize),
      tags: input.tags,
      tagSignature: input.tagSignature,
      encryptedSecret: getBytes(input.encryptedSecret),
      settlementSignature: settlement ? getBytes(settlement.signature) : new Uint8Array(),
      settlementNonce: settlement?.nonce.toString() ?? "",
      taskFeeNeuron: settlement?.taskFee.toString() ?? "",
      userAddress: getAddress(input.user),
      fineTuningContract: getAddress(input.fineTuningContract),
      settlementTxHash: settlement?.txHash ?? "",
      artifactSha256: input.artifact.sha256,
      artifactSize: BigInt(input.artifact.size),
    }),
  });
}
