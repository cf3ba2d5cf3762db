export type { ErrorCode, FieldViolation, TaskInput } from "@chaoschain/zerog-core";
export { ZeroGError } from "@chaoschain/zerog-core";
export type { JobUpdate, ListJobsOptions, ResultOptions, SubmitOptions, VerifyOptions } from "./adapter.js";
export { ZeroGComputeAdapter } from "./adapter.js";
export type { ResolvedAdapterConfig, ZeroGComputeAdapterOptions } from "./config.js";
export { baseUrlFromGrpcUrl, resolveConfig } from "./config.js";
export type { JobResult, JobStatus } from "./views.js";
