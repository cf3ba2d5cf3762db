// Generated code (src/gen) is re-exported by name so that the public API is explicit.

export { chatCompletionRequest } from "./chat-request.js";
export type { ErrorCode } from "./errors.js";
export {
  errorCatalogue,
  errorDomain,
  formatViolations,
  fromConnectError,
  invalidArgument,
  printableText,
  toConnectError,
  ZeroGError,
} from "./errors.js";
export type {
  BridgeChecks,
  CancelJobRequest,
  CancelJobResponse,
  ChatMessage,
  ComputeProof,
  ComputeResult,
  ComputeTask,
  FineTuningDelivery,
  GenerationParameters,
  GetJobRequest,
  GetResultRequest,
  GpuDeviceEvidence,
  GpuEvidence,
  Job,
  JobError,
  JobEvent,
  ListJobsRequest,
  ListJobsResponse,
  ListServicesRequest,
  ListServicesResponse,
  QuoteCollateral,
  Resources,
  Service,
  SubmitRequest,
  SubmitResponse,
  TaskInputs,
  TeeEvidence,
  Usage,
  WatchJobRequest,
} from "./gen/chaoschain/zerog/v1/compute_pb.js";
export {
  BridgeChecksSchema,
  CancelJobRequestSchema,
  CancelJobResponseSchema,
  ChatMessageSchema,
  ComputeProofSchema,
  ComputeResultSchema,
  ComputeService,
  ComputeTaskSchema,
  FailureReason,
  FailureReasonSchema,
  FineTuningDeliverySchema,
  file_chaoschain_zerog_v1_compute,
  GenerationParametersSchema,
  GetJobRequestSchema,
  GetResultRequestSchema,
  GpuDeviceEvidenceSchema,
  GpuEvidenceSchema,
  JobErrorSchema,
  JobEventSchema,
  JobSchema,
  JobState,
  JobStateSchema,
  ListJobsRequestSchema,
  ListJobsResponseSchema,
  ListServicesRequestSchema,
  ListServicesResponseSchema,
  QuoteCollateralSchema,
  ReportDataBinding,
  ReportDataBindingSchema,
  ResourcesSchema,
  ServiceSchema,
  SubmitRequestSchema,
  SubmitResponseSchema,
  TaskInputsSchema,
  TaskType,
  TaskTypeSchema,
  TeeEvidenceSchema,
  UsageSchema,
  VerificationMethod,
  VerificationMethodSchema,
  WatchJobRequestSchema,
} from "./gen/chaoschain/zerog/v1/compute_pb.js";
export type {
  BadRequest,
  BadRequest_FieldViolation,
  ErrorInfo,
  RetryInfo,
} from "./gen/google/rpc/error_details_pb.js";
export {
  BadRequest_FieldViolationSchema,
  BadRequestSchema,
  ErrorInfoSchema,
  file_google_rpc_error_details,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";
export type {
  HealthCheckRequest,
  HealthCheckResponse,
} from "./gen/grpc/health/v1/health_pb.js";
export {
  file_grpc_health_v1_health,
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponse_ServingStatusSchema,
  HealthCheckResponseSchema,
} from "./gen/grpc/health/v1/health_pb.js";
export type {
  ServerReflectionRequest,
  ServerReflectionResponse,
} from "./gen/grpc/reflection/v1/reflection_pb.js";
export {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
} from "./gen/grpc/reflection/v1/reflection_pb.js";
// The deprecated v1alpha service (same messages), still asked for by older clients.
export {
  file_grpc_reflection_v1alpha_reflection,
  ServerReflection as ServerReflectionV1Alpha,
} from "./gen/grpc/reflection/v1alpha/reflection_pb.js";
export type { FailureReasonName, JobStateName, TaskTypeName, VerificationName } from "./names.js";
export {
  failureReasonFromName,
  failureReasonName,
  isTerminalState,
  jobStateFromName,
  jobStateName,
  taskTypeFromName,
  taskTypeName,
  verificationFromName,
  verificationName,
  verificationOnChainName,
} from "./names.js";
export type { FieldViolation, ParseTaskResult, TaskInput } from "./task.js";
export { limits, parseTask, validateIdempotencyKey, validateTask } from "./task.js";
