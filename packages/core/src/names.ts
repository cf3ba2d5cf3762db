import {
  FailureReason,
  JobState,
  TaskType,
  VerificationMethod,
} from "./gen/chaoschain/zerog/v1/compute_pb.js";

/** Task type names as written in task objects: the original adapter's spelling. */
export type TaskTypeName = "inference" | "fine-tuning" | "training";
/** Verification method names as written in task objects and proofs. */
export type VerificationName = "tee-ml" | "zk-ml" | "op-ml";
/** Job state names, lower case. */
export type JobStateName = "queued" | "running" | "succeeded" | "failed" | "cancelled";
/** Failure reasons, snake_case (e.g. `proof_invalid`). */
export type FailureReasonName =
  | "no_provider"
  | "provider_unavailable"
  | "provider_error"
  | "proof_invalid"
  | "insufficient_balance"
  | "unsupported"
  | "interrupted"
  | "chain_error"
  | "internal"
  | "collateral_unavailable"
  | "invalid_input";

const taskTypes: Record<TaskTypeName, TaskType> = {
  inference: TaskType.INFERENCE,
  "fine-tuning": TaskType.FINE_TUNING,
  training: TaskType.TRAINING,
};

const verifications: Record<VerificationName, VerificationMethod> = {
  "tee-ml": VerificationMethod.TEE_ML,
  "zk-ml": VerificationMethod.ZK_ML,
  "op-ml": VerificationMethod.OP_ML,
};

const jobStates: Record<JobStateName, JobState> = {
  queued: JobState.QUEUED,
  running: JobState.RUNNING,
  succeeded: JobState.SUCCEEDED,
  failed: JobState.FAILED,
  cancelled: JobState.CANCELLED,
};

const failureReasons: Record<FailureReasonName, FailureReason> = {
  no_provider: FailureReason.NO_PROVIDER,
  provider_unavailable: FailureReason.PROVIDER_UNAVAILABLE,
  provider_error: FailureReason.PROVIDER_ERROR,
  proof_invalid: FailureReason.PROOF_INVALID,
  insufficient_balance: FailureReason.INSUFFICIENT_BALANCE,
  unsupported: FailureReason.UNSUPPORTED,
  interrupted: FailureReason.INTERRUPTED,
  chain_error: FailureReason.CHAIN_ERROR,
  internal: FailureReason.INTERNAL,
  collateral_unavailable: FailureReason.COLLATERAL_UNAVAILABLE,
  invalid_input: FailureReason.INVALID_INPUT,
};

/** 0G's on-chain spelling of each verification method (`InferenceServing` service records). */
const onChainVerifiability: Record<VerificationName, string> = {
  "tee-ml": "TeeML",
  "zk-ml": "ZKML",
  "op-ml": "OpML",
};

// Lower-case, with '_' and '-' folded to `sep`, so "FINE_TUNING", "fine_tuning" and
// "TASK_TYPE_FINE_TUNING" all find their entry.
function fold(value: string, prefix: string, sep = "-"): string {
  let v = value.trim().toLowerCase().replaceAll(/[-_]/g, sep);
  if (v.startsWith(prefix)) v = v.slice(prefix.length);
  return v;
}

function lookup<N extends string, E>(
  table: Record<N, E>,
  value: string,
  prefix: string,
  sep = "-",
): E | undefined {
  const key = fold(value, prefix, sep);
  return Object.hasOwn(table, key) ? table[key as N] : undefined;
}

function reverse<N extends string, E>(table: Record<N, E>, value: E): N | undefined {
  for (const [name, v] of Object.entries(table) as [N, E][]) if (v === value) return name;
  return undefined;
}

/** `"inference"`, `"fine_tuning"`, `"TASK_TYPE_TRAINING"` … → {@link TaskType}; unknown → undefined. */
export function taskTypeFromName(name: string): TaskType | undefined {
  return lookup(taskTypes, name, "task-type-");
}
export function taskTypeName(value: TaskType): TaskTypeName | undefined {
  return reverse(taskTypes, value);
}

/** `"tee-ml"`, `"TeeML"`, `"zkml"`, `"VERIFICATION_METHOD_OP_ML"` … → {@link VerificationMethod}. */
export function verificationFromName(name: string): VerificationMethod | undefined {
  const folded = fold(name, "verification-method-");
  const compact: Record<string, VerificationName> = { teeml: "tee-ml", zkml: "zk-ml", opml: "op-ml" };
  return lookup(verifications, compact[folded] ?? folded, "");
}
export function verificationName(value: VerificationMethod): VerificationName | undefined {
  return reverse(verifications, value);
}
/** The `verifiability` string 0G service records use: "TeeML", "ZKML" or "OpML". */
export function verificationOnChainName(value: VerificationMethod): string | undefined {
  const name = verificationName(value);
  return name && onChainVerifiability[name];
}

export function jobStateFromName(name: string): JobState | undefined {
  return lookup(jobStates, name, "job-state-");
}
export function jobStateName(value: JobState): JobStateName | undefined {
  return reverse(jobStates, value);
}
/** SUCCEEDED, FAILED and CANCELLED. */
export function isTerminalState(state: JobState): boolean {
  return state === JobState.SUCCEEDED || state === JobState.FAILED || state === JobState.CANCELLED;
}

export function failureReasonName(value: FailureReason): FailureReasonName | undefined {
  return reverse(failureReasons, value);
}
export function failureReasonFromName(name: string): FailureReason | undefined {
  return lookup(failureReasons, name, "failure_reason_", "_");
}
