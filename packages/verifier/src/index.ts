// @chaoschain/zerog-verifier: standalone, offline verification of 0G TEE compute proofs (Node and browsers).

export type { TcbInfoSummary, TdxModuleIdentity } from "./analyze-collateral.js";
export {
  CHECK_NAMES,
  type Check,
  type CheckName,
  type CheckStatus,
  type Reason,
  type SkipReason,
} from "./check.js";
export {
  type CachedCollateralSource,
  type Collateral,
  type CollateralRequest,
  type CollateralSource,
  type CreateCollateralSourceParameters,
  type CreateCollateralSourceReturnType,
  collateralNextUpdate,
  createCollateralSource,
  normalizeCollateral,
} from "./collateral.js";
export {
  type CreatePcsCollateralSourceErrorType,
  type CreatePcsCollateralSourceParameters,
  type CreatePcsCollateralSourceReturnType,
  createPcsCollateralSource,
  type PcsCollateralSource,
} from "./create-pcs-collateral-source.js";
// Errors
export {
  BaseError,
  type BaseErrorParameters,
  type BaseErrorType,
  type VerifierErrorCode,
} from "./errors/base.js";
export {
  CollateralFetchError,
  type CollateralFetchErrorKind,
  type CollateralFetchErrorType,
} from "./errors/collateral.js";
export {
  CollateralUnavailableError,
  type CollateralUnavailableErrorType,
  InputTooLargeError,
  type InputTooLargeErrorType,
  InvalidInputError,
  type InvalidInputErrorType,
} from "./errors/input.js";
export {
  composeHashOf,
  DSTACK_RUNTIME_EVENT_TYPE,
  type DstackIdentity,
  type EventLogEntry,
  type ReplayEventLogReturnType,
  replayEventLog,
  runtimeEventDigest,
} from "./event-log.js";
export {
  type FetchPcsCollateralErrorType,
  type FetchPcsCollateralParameters,
  type FetchPcsCollateralReturnType,
  fetchPcsCollateral,
  INTEL_PCS_URL,
  INTEL_ROOT_CA_CRL_URL,
  type PcsOptions,
} from "./fetch-pcs-collateral.js";
export {
  type FineTuningSettlementMessage,
  fineTuningSettlementDigest,
} from "./fine-tuning-settlement-digest.js";
export { type FormattableReport, formatReport } from "./format-report.js";
export {
  gpuNonceFor,
  type VerifyGpuEvidenceParameters,
  type VerifyGpuEvidenceReturnType,
  verifyGpuEvidence,
} from "./gpu.js";
export { LIMITS } from "./limits.js";
export {
  type BytesInput,
  type ComputeProofInput,
  type ComputeResultInput,
  type FineTuningDeliveryInput,
  type GpuDeviceEvidenceInput,
  type GpuEvidenceInput,
  type Int64Input,
  type NormalizedFineTuningDelivery,
  type NormalizedProof,
  normalizeProof,
  type ReportDataBindingInput,
  type TeeEvidenceInput,
} from "./normalize-proof.js";
export { type OutputFromResponseBodyErrorType, outputFromResponseBody } from "./output-from-response-body.js";
// Building blocks (other libraries, the bridge, the devnet)
export { type ParsedQuote, parseQuote } from "./parse-quote.js";
export {
  defaultPolicy,
  INTEL_QE_VENDOR_ID,
  INTEL_SGX_ROOT_CA_BASE64,
  type Jwks,
  type Policy,
  type PolicyInput,
  type ReportDataBindingName,
  type TcbStatus,
} from "./policy.js";
export {
  fromQuoteCollateral,
  type QuoteCollateralFields,
  type QuoteCollateralInput,
  type TimestampInput,
  toQuoteCollateral,
} from "./quote-collateral.js";
export { type ReadCollateralRequestErrorType, readCollateralRequest } from "./read-collateral-request.js";
export { readResponseBody, type SignedResponse, type SignedUsage } from "./read-response-body.js";
export {
  type ExpectedReportDataErrorType,
  type ExpectedReportDataParameters,
  expectedReportData,
  toChecksumAddress,
} from "./report-data.js";
export { type ResolvedPolicy, resolvePolicy } from "./resolve-policy.js";
export { createSseParser, parseSse, type SseEvent, type SseParser } from "./sse.js";
export {
  type CreateVerificationCacheParameters,
  createVerificationCache,
  type VerificationCache,
} from "./verification-cache.js";
// End users
export {
  type VerifyProofErrorType,
  type VerifyProofParameters,
  type VerifyProofReturnType,
  verifyProof,
  type Warning,
} from "./verify-proof.js";
export {
  type QuoteSummary,
  type VerifyQuoteErrorType,
  type VerifyQuoteParameters,
  type VerifyQuoteReturnType,
  verifyQuote,
} from "./verify-quote.js";
export {
  addressOfPublicKey,
  personalMessageDigest,
  recoverDigestSigner,
  recoverPersonalSigner,
  type VerifyResponseSignatureErrorType,
  type VerifyResponseSignatureParameters,
  type VerifyResponseSignatureReturnType,
  verifyResponseSignature,
} from "./verify-response-signature.js";
