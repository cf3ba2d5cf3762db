import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type ComputeProof,
  type ComputeResult,
  type FailureReasonName,
  failureReasonName,
  type Job,
  type JobStateName,
  jobStateName,
  type TaskTypeName,
  taskTypeName,
} from "@chaoschain/zerog-core";

/** Where a job is, in plain values. */
export interface JobStatus {
  jobId: string;
  state: JobStateName;
  /** 0 to 1. */
  progress: number;
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
}

/** A job's output with its proof (pass `proof` to `verifyProof` of `@chaoschain/zerog-verifier`). */
export interface JobResult {
  jobId: string;
  output: string;
  proof: ComputeProof;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; feeNeuron: bigint };
}

export function jobStatus(job: Job): JobStatus {
  const status: JobStatus = {
    jobId: job.jobId,
    state: jobStateName(job.state) ?? "queued",
    progress: job.progress,
    providerAddress: job.providerAddress,
    model: job.model,
    taskType: taskTypeName(job.taskType),
    attempts: job.attempts,
    createdAt: job.createTime && timestampDate(job.createTime),
    updatedAt: job.updateTime && timestampDate(job.updateTime),
  };
  if (job.startTime) status.startedAt = timestampDate(job.startTime);
  if (job.endTime) status.endedAt = timestampDate(job.endTime);
  if (job.error)
    status.error = {
      reason: failureReasonName(job.error.reason) ?? "unspecified",
      message: job.error.message,
    };
  return status;
}

export function jobResult(result: ComputeResult): JobResult {
  const u = result.usage;
  return {
    jobId: result.jobId,
    output: result.output,
    proof: result.proof!,
    usage: {
      promptTokens: Number(u?.promptTokens ?? 0),
      completionTokens: Number(u?.completionTokens ?? 0),
      totalTokens: Number(u?.totalTokens ?? 0),
      feeNeuron: BigInt(u?.feeNeuron || "0"),
    },
  };
}
