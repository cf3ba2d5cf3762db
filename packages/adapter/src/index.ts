export { ZeroGComputeAdapter } from "./adapter.js";
export type { JobUpdate, ListJobsOptions, ResultOptions, SubmitOptions } from "./adapter.js";
export { baseUrlFromGrpcUrl, resolveConfig } from "./config.js";
export type { ResolvedAdapterConfig, ZeroGComputeAdapterOptions } from "./config.js";
export type { JobResult, JobStatus } from "./views.js";
export { ZeroGError } from "@chaoschain/zerog-core";
export type { ErrorCode, FieldViolation, TaskInput } from "@chaoschain/zerog-core";
