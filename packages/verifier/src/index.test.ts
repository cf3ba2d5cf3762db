import { expect, it } from "vitest";
import * as exports from "./index.js";

it("public API (named exports)", () => {
  expect(Object.keys(exports).sort()).toMatchInlineSnapshot(`
    [
      "BaseError",
      "CollateralUnavailableError",
      "DSTACK_RUNTIME_EVENT_TYPE",
      "INTEL_QE_VENDOR_ID",
      "INTEL_SGX_ROOT_CA_BASE64",
      "InvalidInputError",
      "addressOfPublicKey",
      "composeHashOf",
      "createCollateralSource",
      "createVerificationCache",
      "defaultPolicy",
      "expectedReportData",
      "gpuNonceFor",
      "normalizeCollateral",
      "normalizeProof",
      "outputFromResponseBody",
      "parseQuote",
      "personalMessageDigest",
      "recoverPersonalSigner",
      "replayEventLog",
      "resolvePolicy",
      "toChecksumAddress",
      "verifyGpuEvidence",
      "verifyProof",
      "verifyQuote",
      "verifyResponseSignature",
    ]
  `);
});
