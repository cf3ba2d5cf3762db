import { rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { FailureReason, UsageSchema } from "@chaoschain/zerog-core";
import { fineTuningSettlementDigest, recoverDigestSigner } from "@chaoschain/zerog-verifier";
import { getBytes } from "ethers";
import { BackendError, type BackendJobResult } from "../../backend.js";
import { delay } from "../../delay.js";
import { artifactFileName, jobArtifactsDir } from "./artifacts.js";
import type { Deliverable, FineTuningService, Settlement } from "./fine-tuning-contract.js";
import { buildFineTuningProof } from "./fine-tuning-proof.js";
import type {
  FineTuningCheckpoint,
  FineTuningRunContext,
  FineTuningRunnerDeps,
} from "./fine-tuning-runner.js";

import {
  decryptModelFile,
  decryptModelKey,
  type ModelEnvelope,
  openHashedSink,
  readModelEnvelope,
  recoverTagSigner,
} from "./model-delivery.js";
import type { FineTuningProviderClient } from "./provider-client.js";
import { type JobProgress, taskProgress } from "./task-progress.js";

export interface DeliverModelParameters {
  deps: FineTuningRunnerDeps;
  service: FineTuningService;
  client: FineTuningProviderClient;
  ctx: FineTuningRunContext;
  checkpoint: FineTuningCheckpoint;
  save(patch: Partial<FineTuningCheckpoint>): Promise<void>;
  show(progress: JobProgress): void;
  baseModel: string;
  /** The fee the provider's task shows (decimal neuron). */
  providerFee: string;
}

const proofInvalid = (message: string) => new BackendError(FailureReason.PROOF_INVALID, message);
const notAcknowledged =
  "the bridge does not acknowledge it: the provider may settle at 0G's penalty share of the fee, after which the " +
  "contract refuses its next delivery to this wallet";

/**
 * The end of a fine-tuning job, from the provider's delivery: downloads the encrypted model over the TEE
 * route, checks keccak256(file) against the on-chain `modelRootHash` and the tag signature against the
 * service's TEE signer (either mismatch fails the job, unacknowledged), acknowledges the deliverable on
 * chain, waits for the provider's settlement, checks its EIP-712 signature, ECIES-decrypts the model key
 * with the wallet key, decrypts the model into the job's artifacts directory (0600) and returns the
 * artifact reference and its proof.
 */
export async function deliverModel(p: DeliverModelParameters): Promise<BackendJobResult> {
  const dir = await jobArtifactsDir(p.deps.options.artifactsDir, p.ctx.jobId);
  try {
    return await deliverInto(p, dir);
  } catch (err) {
    // A refused, partial or undecryptable download (up to maxModelBytes) must not stay on disk; a resumed
    // job downloads again.
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function deliverInto(p: DeliverModelParameters, dir: string): Promise<BackendJobResult> {
  const { deps, service, ctx } = p;
  const { serving } = deps;
  const { signal } = ctx;
  const taskId = p.checkpoint.taskId as string;
  let deliverable = await onChain(p, taskId);

  p.show(taskProgress("Delivered"));
  const encrypted = join(dir, `${taskId}.enc`);
  const download = await downloadWithRetries(p, taskId, encrypted);
  if (download.keccak256.toLowerCase() !== deliverable.modelRootHash.toLowerCase()) {
    throw proofInvalid(
      `the encrypted model provider ${service.provider} served for task ${taskId} (keccak256 ${download.keccak256}) is not ` +
        `the one it recorded on chain (modelRootHash ${deliverable.modelRootHash}); ${notAcknowledged}`,
    );
  }
  const envelope = await readModelEnvelope(encrypted, download.size);
  if (!envelope.ok)
    throw proofInvalid(
      `the delivered model of task ${taskId} is malformed (${envelope.problem}); ${notAcknowledged}`,
    );
  const signer = recoverTagSigner(envelope.tags, envelope.tagSignature);
  if (signer?.address !== service.teeSignerAddress) {
    throw proofInvalid(
      `the delivered model of task ${taskId} is not signed by the provider's TEE signer ${service.teeSignerAddress} ` +
        `(tag signature ${signer ? `by ${signer.address}` : "malformed"}); ${notAcknowledged}`,
    );
  }

  if (!deliverable.acknowledged) {
    p.show({ progress: 0.85, stage: "Delivered", message: "delivery verified; acknowledging it on chain" });
    await deps.txs.run(() => serving.acknowledgeDeliverable(service.provider, taskId));
  }
  if (!p.checkpoint.acknowledged) await p.save({ acknowledged: true });
  p.show(taskProgress("UserAcknowledged"));
  deliverable = await waitForSettlement(p, taskId);
  if (deliverable.encryptedSecret === "0x" || deliverable.encryptedSecret === "") {
    throw new BackendError(
      FailureReason.PROVIDER_ERROR,
      `provider ${service.provider} settled task ${taskId} without publishing the model key; the model cannot be decrypted`,
    );
  }
  const settlement = await serving.findSettlement(service.provider, taskId, p.checkpoint.fromBlock ?? 0);
  if (settlement)
    checkSettlement(
      {
        chainId: deps.chainId,
        fineTuningContract: serving.address,
        teeSigner: service.teeSignerAddress,
        user: deps.wallet.address,
        nonce: p.checkpoint.nonce === undefined ? undefined : BigInt(p.checkpoint.nonce),
      },
      settlement,
      deliverable,
    );
  else
    deps.logger.warn(
      { jobId: ctx.jobId, taskId },
      "the provider's settleFees transaction was not found; the proof has no settlement signature",
    );

  p.show(taskProgress("Finished"));
  const key = decryptModelKey(deliverable.encryptedSecret, deps.wallet.privateKey);
  if (!key)
    throw proofInvalid(
      `the model key provider ${service.provider} published for task ${taskId} does not decrypt with this wallet's key`,
    );
  const artifact = await decryptArtifact(encrypted, envelope, key, dir, taskId);
  await rm(encrypted, { force: true });
  const attestation = await deps.attestation(service.url, signal);
  const collateral = await deps.collateral?.(attestation, service.teeSignerAddress);
  const proof = buildFineTuningProof({
    service,
    attestation,
    collateral,
    chainId: deps.chainId,
    fineTuningContract: serving.address,
    timestamp: Math.floor(Date.now() / 1000),
    baseModel: p.baseModel,
    baseModelHash: p.checkpoint.baseModelHash ?? "",
    taskId,
    datasetHash: p.checkpoint.datasetHash ?? "",
    datasetSha256: p.checkpoint.datasetSha256 ?? "",
    trainingParams: p.checkpoint.trainingParams ?? "",
    modelRootHash: deliverable.modelRootHash,
    encryptedSize: download.size,
    tags: envelope.tags,
    tagSignature: envelope.tagSignature,
    enclavePubkey: signer.publicKey,
    encryptedSecret: deliverable.encryptedSecret,
    settlement,
    user: deps.wallet.address,
    artifact,
  });
  const verdict = await deps.checkProof?.(proof);
  if (verdict && !verdict.ok) {
    throw proofInvalid(
      `the proof of task ${taskId} does not verify (${verdict.reason}); the model is withheld`,
    );
  }
  return {
    output: JSON.stringify({ path: artifact.path, sha256: artifact.sha256, size: artifact.size }),
    proof,
    usage: create(UsageSchema, {
      feeNeuron: (settlement?.taskFee ?? BigInt(p.providerFee || "0")).toString(),
    }),
    providerAddress: service.provider,
  };
}

/** The deliverable as recorded on chain (the provider's `addDeliverable` may lag its state by a block). */
async function onChain(p: DeliverModelParameters, taskId: string): Promise<Deliverable> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const d = await p.deps.serving.deliverable(p.service.provider, taskId);
    if (d) return d;
    await delay(p.deps.options.pollIntervalMs, p.ctx.signal);
  }
  throw new BackendError(
    FailureReason.PROVIDER_ERROR,
    `provider ${p.service.provider} reports task ${taskId} delivered, but the chain has no deliverable for it`,
  );
}

/**
 * Downloads the encrypted model to `path`, retrying retryable failures, all within `downloadTimeoutMs`
 * however steadily the provider sends bytes (each read has only the call timeout); past it the job fails
 * provider_unavailable, and the caller deletes the partial file.
 */
async function downloadWithRetries(p: DeliverModelParameters, taskId: string, path: string) {
  const { downloadTimeoutMs, maxModelBytes, pollIntervalMs } = p.deps.options;
  const deadline = AbortSignal.timeout(downloadTimeoutMs);
  const signal = AbortSignal.any([p.ctx.signal, deadline]);
  let received = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      await rm(path, { force: true });
      const sink = await openHashedSink(path);
      received = 0;
      try {
        await p.client.downloadModel(
          taskId,
          maxModelBytes,
          (chunk) => {
            received += chunk.length;
            return sink.write(chunk);
          },
          signal,
        );
        return await sink.close();
      } catch (err) {
        await sink.abort();
        if (signal.aborted || !(err instanceof BackendError) || !err.retryable || attempt >= 3) throw err;
        await delay(pollIntervalMs * attempt, signal);
      }
    }
  } catch (err) {
    if (p.ctx.signal.aborted || !deadline.aborted) throw err;
    throw new BackendError(
      FailureReason.PROVIDER_UNAVAILABLE,
      `provider ${p.service.provider} did not finish serving the model of task ${taskId} within ` +
        `${Math.round(downloadTimeoutMs / 1000)} s (the bridge's --fine-tuning-download-timeout; ${received} bytes ` +
        `received): the partial download is deleted and the delivery is not acknowledged`,
      { cause: err },
    );
  }
}

async function waitForSettlement(p: DeliverModelParameters, taskId: string): Promise<Deliverable> {
  const deadline = Date.now() + p.deps.options.settlementTimeoutMs;
  for (;;) {
    const d = await p.deps.serving.deliverable(p.service.provider, taskId);
    if (d?.settled) return d;
    if (Date.now() > deadline) {
      throw new BackendError(
        FailureReason.PROVIDER_ERROR,
        `provider ${p.service.provider} acknowledged task ${taskId} but has not settled it within ` +
          `${Math.round(p.deps.options.settlementTimeoutMs / 1000)} s; its settlement publishes the model key`,
      );
    }
    await delay(p.deps.options.pollIntervalMs, p.ctx.signal);
  }
}

/** What a settlement must match: this chain, contract, TEE signer, wallet and the job's own task nonce. */
export interface SettlementExpectation {
  chainId: bigint;
  fineTuningContract: string;
  teeSigner: string;
  user: string;
  /** The nonce this job created its task with (undefined for checkpoints that predate it). */
  nonce: bigint | undefined;
}

/**
 * The settlement must be signed by the TEE over exactly what is on chain for this task, this wallet and
 * the nonce this job created its task with (a provider that hands a resumed job another task of this
 * wallet, found by nonce in its own task list, is caught here); throws proof_invalid otherwise.
 */
export function checkSettlement(expected: SettlementExpectation, s: Settlement, d: Deliverable): void {
  const digest = fineTuningSettlementDigest({
    chainId: expected.chainId,
    fineTuningContract: expected.fineTuningContract,
    id: s.id,
    encryptedSecret: getBytes(s.encryptedSecret),
    modelRootHash: getBytes(s.modelRootHash),
    nonce: s.nonce,
    taskFee: s.taskFee,
    user: s.user,
  });
  const signer = recoverDigestSigner(digest, getBytes(s.signature))?.address;
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  if (
    signer !== expected.teeSigner ||
    s.id !== d.id ||
    !same(s.encryptedSecret, d.encryptedSecret) ||
    !same(s.modelRootHash, d.modelRootHash) ||
    !same(s.user, expected.user) ||
    (expected.nonce !== undefined && s.nonce !== expected.nonce)
  ) {
    throw proofInvalid(
      `the settlement of task ${d.id} (transaction ${s.txHash}) is not the TEE's signature over this delivery ` +
        `(signer ${signer ?? "unrecoverable"}, expected ${expected.teeSigner}; nonce ${s.nonce}, this job's task ${expected.nonce ?? "unrecorded"})`,
    );
  }
}

async function decryptArtifact(
  encrypted: string,
  envelope: Extract<ModelEnvelope, { ok: true }>,
  key: Uint8Array,
  dir: string,
  taskId: string,
): Promise<{ path: string; sha256: string; size: number }> {
  const partial = join(dir, `${taskId}.part`);
  await rm(partial, { force: true });
  const result = await decryptModelFile(encrypted, envelope, key, partial);
  if (!result.ok) {
    await rm(partial, { force: true });
    throw proofInvalid(`the delivered model of task ${taskId} does not decrypt: ${result.problem}`);
  }
  const path = join(dir, artifactFileName(taskId, result.head));
  await rename(partial, path);
  return { path, sha256: result.sha256, size: result.size };
}
