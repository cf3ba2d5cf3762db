// TEST-ONLY: everything here is signed under a synthetic root CA. Never trust it outside tests.

export { type CreateCertificateParameters, createCertificate } from "./create-certificate.js";
export {
  type CreateCollateralParameters,
  type CreateCollateralReturnType,
  createCollateral,
  createCrl,
  type DcapCollateral,
  type TcbStatus,
} from "./create-collateral.js";
export {
  type CreateDstackAttestationParameters,
  type CreateDstackAttestationReturnType,
  createDstackAttestation,
  DSTACK_RUNTIME_EVENT_TYPE,
  type DstackEvent,
  type DstackQuoteBody,
  dstackEventDigest,
  replayImr,
  runtimeEvent,
} from "./create-dstack-attestation.js";
export { type CreateSgxQuoteParameters, createSgxQuote } from "./create-sgx-quote.js";
export {
  type CreateTdxQuoteParameters,
  type CreateTdxQuoteReturnType,
  createTdxQuote,
  DEFAULT_TD_ATTRIBUTES,
  INTEL_QE_VENDOR_ID,
  TDX_QUOTE_OFFSETS,
} from "./create-tdx-quote.js";
export {
  type CreateTestPkiParameters,
  type CreateTestPkiReturnType,
  createTestPki,
  SGX_OIDS,
  type TestCert,
  type TestPki,
} from "./create-test-pki.js";
export { type QuoteLayout, quoteLayout, replaceCertificationData } from "./edit-quote.js";
export { createEnclaveKey, type EnclaveKey } from "./enclave-key.js";
export { type CreateNrasTokenParameters, createNrasKey, createNrasToken, type NrasKey } from "./nras.js";
export { type ReportDataBinding, reportDataFor, toChecksumAddress } from "./report-data.js";
