// @chaoschain/zerog-verifier: standalone, offline verification of 0G TEE compute proofs (Node and browsers).

export {
  type Collateral,
  type CollateralRequest,
  type CollateralSource,
  type CreateCollateralSourceParameters,
  createCollateralSource,
  normalizeCollateral,
} from "./collateral.js";
// Errors
export {
  BaseError,
  type BaseErrorParameters,
  type BaseErrorType,
  type VerifierErrorCode,
} from "./errors/base.js";
export {
  CollateralUnavailableError,
  type CollateralUnavailableErrorType,
  InvalidInputError,
  type InvalidInputErrorType,
} from "./errors/input.js";
export {
  composeHashOf,
  DSTACK_RUNTIME_EVENT_TYPE,
  type EventLogEntry,
  type ReplayEventLogReturnType,
  replayEventLog,
} from "./event-log.js";
export {
  gpuNonceFor,
  type VerifyGpuEvidenceParameters,
  type VerifyGpuEvidenceReturnType,
  verifyGpuEvidence,
} from "./gpu.js";
export {
  type BytesInput,
  type ComputeProofInput,
  type ComputeResultInput,
  type GpuDeviceEvidenceInput,
  type GpuEvidenceInput,
  type Int64Input,
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
  resolvePolicy,
  type TcbStatus,
} from "./policy.js";
export type { Check, Reason } from "./reasons.js";
export {
  type ExpectedReportDataErrorType,
  type ExpectedReportDataParameters,
  expectedReportData,
  toChecksumAddress,
} from "./report-data.js";
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
  recoverPersonalSigner,
  type VerifyResponseSignatureErrorType,
  type VerifyResponseSignatureParameters,
  type VerifyResponseSignatureReturnType,
  verifyResponseSignature,
} from "./verify-response-signature.js";
