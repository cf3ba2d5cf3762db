import { expect, it } from "vitest";
import * as exports from "./index.js";

it("public API (named exports)", () => {
  expect(Object.keys(exports).sort()).toMatchInlineSnapshot(`
    [
      "BaseError",
      "CHECK_NAMES",
      "CollateralUnavailableError",
      "DSTACK_RUNTIME_EVENT_TYPE",
      "INTEL_QE_VENDOR_ID",
      "INTEL_SGX_ROOT_CA_BASE64",
      "InputTooLargeError",
      "InvalidInputError",
      "LIMITS",
      "addressOfPublicKey",
      "composeHashOf",
      "createCollateralSource",
      "createSseParser",
      "createVerificationCache",
      "defaultPolicy",
      "expectedReportData",
      "fineTuningSettlementDigest",
      "formatReport",
      "gpuNonceFor",
      "normalizeCollateral",
      "normalizeProof",
      "outputFromResponseBody",
      "parseQuote",
      "parseSse",
      "personalMessageDigest",
      "readResponseBody",
      "recoverDigestSigner",
      "recoverPersonalSigner",
      "replayEventLog",
      "resolvePolicy",
      "runtimeEventDigest",
      "toChecksumAddress",
      "verifyGpuEvidence",
      "verifyProof",
      "verifyQuote",
      "verifyResponseSignature",
    ]
  `);
});
