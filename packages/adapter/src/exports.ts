// What the Node entry (index.ts) and the browser entry (browser.ts) both export.
export type { ErrorCode, FieldViolation, TaskInput } from "@chaoschain/zerog-core";
export { ZeroGError } from "@chaoschain/zerog-core";
export type {
  AdapterConnection,
  FineTuneOptions,
  InferenceOptions,
  JobUpdate,
  ListJobsOptions,
  ResultOptions,
  SubmitOptions,
} from "./adapter-base.js";
export { ZeroGComputeAdapterBase } from "./adapter-base.js";
export type {
  ResolvedAdapterConfig,
  ResolvedVerifyOptions,
  VerifyOptions,
  ZeroGComputeAdapterOptions,
} from "./config.js";
export { baseUrlFromGrpcUrl, defaultMaxRequestBytes, resolveConfig } from "./config.js";
export type { ProofVerificationErrorType } from "./errors.js";
export { devnetPolicyPath, ProofVerificationError } from "./errors.js";
export type { ChaosChainSdkTask, InferenceInput } from "./task-shapes.js";
export type {
  JobAttestation,
  JobResult,
  JobResultMetadata,
  JobStatus,
  JobStatusName,
  JobUsage,
  ModelArtifact,
  TaskCheck,
} from "./views.js";
