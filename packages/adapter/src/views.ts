import { toBinary, toJson } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type ComputeProof,
  ComputeProofSchema,
  type ComputeResult,
  type FailureReasonName,
  failureReasonName,
  type Job,
  JobState,
  type TaskTypeName,
  taskTypeName,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type { VerifyProofReturnType } from "@chaoschain/zerog-verifier";

/**
 * A job's state in ChaosChain's vocabulary, as the original Python adapter's `status()["status"]`
 * (the wire keeps the contract's `JOB_STATE_QUEUED` … names): `pending` is queued, `completed` is
 * succeeded.
 */
export type JobStatusName = "pending" | "running" | "completed" | "failed" | "cancelled";

const statusNames: Record<JobState, JobStatusName> = {
  [JobState.UNSPECIFIED]: "pending",
  [JobState.QUEUED]: "pending",
  [JobState.RUNNING]: "running",
  [JobState.SUCCEEDED]: "completed",
  [JobState.FAILED]: "failed",
  [JobState.CANCELLED]: "cancelled",
};

/** The contract's state for a status name; the contract's own lower-case names are accepted too. */
export function jobStateOf(name: string): JobState | undefined {
  const aliases: Record<string, JobState> = {
    pending: JobState.QUEUED,
    queued: JobState.QUEUED,
    running: JobState.RUNNING,
    completed: JobState.SUCCEEDED,
    succeeded: JobState.SUCCEEDED,
    failed: JobState.FAILED,
    cancelled: JobState.CANCELLED,
  };
  return Object.hasOwn(aliases, name) ? aliases[name] : undefined;
}

/**
 * Where a job is. Carries the original Python adapter's status dictionary (`job_id`, `status`,
 * `progress`, `message`, `updated_at`) next to camelCase fields; `state` and `status` are the same
 * ChaosChain name, which is what `@chaoschain/sdk` polls for (`state === "completed"`).
 */
export interface JobStatus {
  jobId: string;
  state: JobStatusName;
  /** 0 to 1. */
  progress: number;
  /** Human-readable status, e.g. why the job failed; empty when there is nothing to add to `state`. */
  message: string;
  /** For long jobs, the provider's own status name ("Training"); empty for inference. */
  stage: string;
  /** Set when the job failed (or was cancelled with a cause). */
  error?: { reason: FailureReasonName | "unspecified"; message: string } | undefined;
  /** Provider running or having run the job; empty until one is chosen. */
  providerAddress: string;
  model: string;
  taskType: TaskTypeName | undefined;
  attempts: number;
  createdAt: Date | undefined;
  updatedAt: Date | undefined;
  startedAt?: Date | undefined;
  endedAt?: Date | undefined;
  /** Python adapter: the job id. */
  job_id: string;
  /** Python adapter: the same as `state`. */
  status: JobStatusName;
  /** Python adapter: `updatedAt` as ISO 8601 text. */
  updated_at: string | undefined;
}

/** Token usage and fee of a job. */
export interface JobUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Fee charged by the provider, neuron (1 0G = 10^18 neuron). */
  feeNeuron: bigint;
}

/**
 * JSON-safe facts about a result, for `@chaoschain/sdk`, which keeps `metadata` in the TEE
 * attestation of its integrity proof.
 */
export interface JobResultMetadata {
  job_id: string;
  model: string;
  provider_address: string;
  enclave_address: string;
  /** The model's output. */
  output: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number; fee_neuron: string };
  /** What the bridge checked before it kept the result, and what its operator switched off. */
  bridge_checks: {
    signature_verified: boolean;
    quote_verified: boolean;
    skipped: string[];
  } | null;
  /** This adapter's own check of the proof: `verified`, or `not_checked` with `verify: false`. */
  client_verification: "verified" | "not_checked";
  /** As `taskCheck`. */
  task_check: TaskCheck;
}

/**
 * Whether the result answers the job's task: `verified` when the request its enclave signed is the one
 * the task maps to (the adapter submitted the task, or was given it); `skipped` when the adapter did not
 * know the task (a job submitted elsewhere, without `result(jobId, { task })`), for tasks that send no
 * chat request (fine-tuning: its proof binds the model delivered), or with `verify: false`.
 */
export type TaskCheck = "verified" | "skipped";

interface JobResultBase {
  jobId: string;
  /** Python adapter: the job id. */
  job_id: string;
  /** Python adapter: the wire `ComputeResult` as the bridge sent it, before any check of ours. */
  raw: ComputeResult;
  /** `{ value: "tee-ml" }`, as `@chaoschain/sdk` reads it. */
  verification_method: { value: string };
  metadata: JobResultMetadata;
  /**
   * The adapter's own verification report (`@chaoschain/zerog-verifier`, `ok: true`: a proof that
   * does not verify throws instead); `undefined` only with `verify: false` (not checked here).
   */
  verification: VerifyProofReturnType | undefined;
  /** Whether the request the enclave signed is this job's task (see {@link TaskCheck}). */
  taskCheck: TaskCheck;
}

/** A job's output and its proof. */
export interface JobResult extends JobResultBase {
  success: true;
  output: string;
  /**
   * Pass it to `verifyProof` of `@chaoschain/zerog-verifier`. `proof.toString("hex")` (what
   * `@chaoschain/sdk` calls) is the hex of the proof's protobuf encoding (`ComputeProofSchema`).
   */
  proof: ComputeProof;
  usage: JobUsage;
  /** The proof's execution hash: hex sha256 of the text the enclave signed (fine-tuning: of the model). */
  execution_hash: string;
  /** Fine-tuning: the decrypted model the bridge wrote on its host (the output, parsed). */
  artifact?: ModelArtifact | undefined;
}

/** A fine-tuned model on the bridge host, as a fine-tuning job's output names it. */
export interface ModelArtifact {
  /** Absolute path on the bridge host. */
  path: string;
  /** hex sha256 of the model file (the proof's `fine_tuning.artifact_sha256`). */
  sha256: string;
  /** Bytes. */
  size: number;
}

/** The error for a field of the bridge's answer that no bridge of ours sends: never a TypeError or RangeError. */
export function malformedAnswer(jobId: string, field: string, what: string): ZeroGError {
  return new ZeroGError("internal", `the bridge answered job ${jobId} with ${field} ${what}`, {
    metaMessages: ["Do not rely on this bridge's answers: it is not a ChaosChain bridge, or it misbehaves."],
  });
}

/** A date as `Date` can hold it (±8.64e15 ms), else the bridge's answer is malformed. */
function dateOf(jobId: string, field: string, ms: number): Date {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) throw malformedAnswer(jobId, field, `out of range (${ms} ms)`);
  return date;
}

function timestampOf(jobId: string, field: string, ts: Timestamp | undefined): Date | undefined {
  return ts && dateOf(jobId, field, timestampDate(ts).getTime());
}

/** A fee in neuron: decimal digits, as the bridge writes it. */
function feeOf(jobId: string, fee: string | undefined): bigint {
  if (!fee) return 0n;
  if (!/^\d{1,78}$/.test(fee)) {
    throw malformedAnswer(
      jobId,
      "usage.fee_neuron",
      `${JSON.stringify(fee.slice(0, 80))}, not a number of neuron`,
    );
  }
  return BigInt(fee);
}

export function jobStatus(job: Job): JobStatus {
  const state = statusNames[job.state] ?? "pending";
  const updatedAt = timestampOf(job.jobId, "update_time", job.updateTime);
  const status: JobStatus = {
    jobId: job.jobId,
    state,
    progress: job.progress,
    message: job.message || job.error?.message || "",
    stage: job.stage,
    providerAddress: job.providerAddress,
    model: job.model,
    taskType: taskTypeName(job.taskType),
    attempts: job.attempts,
    createdAt: timestampOf(job.jobId, "create_time", job.createTime),
    updatedAt,
    job_id: job.jobId,
    status: state,
    updated_at: updatedAt?.toISOString(),
  };
  if (job.startTime) status.startedAt = timestampOf(job.jobId, "start_time", job.startTime);
  if (job.endTime) status.endedAt = timestampOf(job.jobId, "end_time", job.endTime);
  if (job.error)
    status.error = {
      reason: failureReasonName(job.error.reason) ?? "unspecified",
      message: job.error.message,
    };
  return status;
}

const hexDigits = new TextEncoder().encode("0123456789abcdef");

/**
 * Lowercase hex of `bytes`, in Node and browsers alike. Built in one buffer: an array of one string per
 * byte costs some 30 times the bytes, and a bridge chooses how large a quote or a body is.
 */
export function hex(bytes: Uint8Array): string {
  const out = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out[2 * i] = hexDigits[b >> 4]!;
    out[2 * i + 1] = hexDigits[b & 15]!;
  }
  return new TextDecoder().decode(out);
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The proof with a `toString("hex" | "base64")` giving its protobuf encoding, as the SDK expects. */
function withEncoding(proof: ComputeProof): ComputeProof {
  Object.defineProperty(proof, "toString", {
    enumerable: false,
    configurable: true,
    value(encoding?: string) {
      const bytes = toBinary(ComputeProofSchema, proof);
      return encoding === "base64" ? base64(bytes) : hex(bytes);
    },
  });
  return proof;
}

function metadataOf(
  result: ComputeResult,
  verification: JobResultMetadata["client_verification"],
  taskCheck: TaskCheck,
) {
  const u = result.usage;
  const checks = result.bridgeChecks;
  return {
    job_id: result.jobId,
    model: result.proof?.model ?? "",
    provider_address: result.proof?.providerAddress ?? "",
    enclave_address: result.proof?.enclaveAddress ?? "",
    output: result.output,
    usage: {
      prompt_tokens: Number(u?.promptTokens ?? 0),
      completion_tokens: Number(u?.completionTokens ?? 0),
      total_tokens: Number(u?.totalTokens ?? 0),
      fee_neuron: u?.feeNeuron || "0",
    },
    bridge_checks: checks
      ? {
          signature_verified: checks.signatureVerified,
          quote_verified: checks.quoteVerified,
          skipped: [...checks.skipped],
        }
      : null,
    client_verification: verification,
    task_check: taskCheck,
  } satisfies JobResultMetadata;
}

/** The result as handed out, with the adapter's verification report (undefined: not checked here). */
export function jobResult(
  result: ComputeResult,
  verification: VerifyProofReturnType | undefined,
  taskCheck: TaskCheck,
): JobResult {
  const u = result.usage;
  const feeNeuron = feeOf(result.jobId, u?.feeNeuron);
  const proof = withEncoding(result.proof!);
  const artifact = proof.fineTuning ? artifactOf(result.output) : undefined;
  return {
    jobId: result.jobId,
    job_id: result.jobId,
    raw: result,
    verification_method: { value: result.proof?.method || "tee-ml" },
    verification,
    success: true,
    ...(artifact ? { artifact } : {}),
    output: result.output,
    proof,
    usage: {
      promptTokens: Number(u?.promptTokens ?? 0),
      completionTokens: Number(u?.completionTokens ?? 0),
      totalTokens: Number(u?.totalTokens ?? 0),
      feeNeuron,
    },
    execution_hash: proof.executionHash,
    taskCheck,
    metadata: metadataOf(result, verification ? "verified" : "not_checked", taskCheck),
  };
}

/** The artifact reference of a fine-tuning output, when it is one. */
function artifactOf(output: string): ModelArtifact | undefined {
  try {
    const r = JSON.parse(output) as Partial<ModelArtifact>;
    return typeof r.path === "string" && typeof r.sha256 === "string" && typeof r.size === "number"
      ? { path: r.path, sha256: r.sha256, size: r.size }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The TEE evidence behind a result, JSON-safe (bytes as hex), as `attestation(jobId)` gives it to
 * `@chaoschain/sdk`: what binds the enclave's signing key to an attested workload, and the whole
 * proof in proto3 JSON so that anyone holding it can verify it offline.
 */
export interface JobAttestation {
  job_id: string;
  provider: "0g-compute";
  method: string;
  execution_hash: string;
  signed_text: string;
  signature: string;
  enclave_address: string;
  enclave_pubkey: string;
  docker_digest: string;
  provider_address: string;
  /** "tdx" or "sgx"; empty when the proof carries no TEE evidence. */
  tee_type: string;
  /** The TEE quote, hex. */
  quote: string;
  /** The quote's REPORTDATA as the provider claims it, hex. */
  report_data: string;
  gpu: { arch: string; nonce: string; nras_token: string } | null;
  timestamp: string;
  /** The complete `ComputeProof`, proto3 JSON (pass it to `verifyProof` with the output). */
  proof: unknown;
}

export function jobAttestation(jobId: string, proof: ComputeProof): JobAttestation {
  return {
    job_id: jobId,
    provider: "0g-compute",
    method: proof.method,
    execution_hash: proof.executionHash,
    signed_text: proof.signedText,
    signature: proof.signature,
    enclave_address: proof.enclaveAddress,
    enclave_pubkey: proof.enclavePubkey,
    docker_digest: proof.dockerDigest,
    provider_address: proof.providerAddress,
    tee_type: proof.tee?.teeType ?? "",
    quote: hex(proof.attestation),
    report_data: hex(proof.tee?.reportData ?? new Uint8Array()),
    gpu: proof.gpu ? { arch: proof.gpu.arch, nonce: proof.gpu.nonce, nras_token: proof.gpu.nrasToken } : null,
    timestamp: dateOf(jobId, "proof.timestamp", Number(proof.timestamp) * 1000).toISOString(),
    proof: toJson(ComputeProofSchema, proof, { useProtoFieldName: true }),
  };
}
