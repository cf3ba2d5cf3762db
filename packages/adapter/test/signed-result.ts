import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { type ComputeResult, ComputeResultSchema } from "@chaoschain/zerog-core";
import { createDstackAttestation, createEnclaveKey, createTestPki } from "@chaoschain/zerog-tee-sim";
import { type PolicyInput, toQuoteCollateral } from "@chaoschain/zerog-verifier";

const pki = createTestPki({ seed: "adapter-tests" });
const enclave = createEnclaveKey({ seed: "adapter-tests" });
const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

/** The policy of the synthetic test PKI the results below are signed under (as a devnet's). TEST ONLY. */
export const testPolicy: PolicyInput = { tee: { rootCaPem: pki.rootCaPem } };

/**
 * A genuine `ComputeResult` of a synthetic TEE provider: the enclave's signature over the exact bodies,
 * a TDX quote binding its address, the collateral embedded, signed `created` at `now`, the request
 * carrying `messages`. `output` may differ from what was signed (a tampered result).
 */
export function signedResult(
  jobId: string,
  options: { now?: number; output?: string; messages?: Array<{ role: string; content: string }> } = {},
): ComputeResult {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const content = "The answer is 42.";
  const att = createDstackAttestation({
    pki,
    signingAddress: enclave.address,
    binding: "address-ascii",
    appCompose: JSON.stringify({ manifest_version: 2, name: "adapter-test" }),
    now,
  });
  const requestBody = new TextEncoder().encode(
    JSON.stringify({ model: "llama-3-8b", messages: options.messages ?? [] }),
  );
  const responseBody = new TextEncoder().encode(
    JSON.stringify({
      object: "chat.completion",
      created: now,
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    }),
  );
  const signedText = `${sha256(requestBody)}:${sha256(responseBody)}`;
  return create(ComputeResultSchema, {
    jobId,
    output: options.output ?? content,
    proof: {
      method: "tee-ml",
      dockerDigest: att.dockerDigest,
      attestation: att.quote,
      signature: enclave.signPersonalMessage(signedText),
      signedText,
      executionHash: sha256(signedText),
      timestamp: BigInt(now),
      requestBody,
      responseBody,
      enclaveAddress: enclave.address,
      signingAlgo: "ecdsa",
      model: "llama-3-8b",
      tee: {
        teeType: "tdx",
        eventLog: att.body.event_log,
        appCompose: att.body.tcb_info.app_compose,
        collateral: toQuoteCollateral(att.collateral),
      },
    },
    bridgeChecks: { signatureVerified: true, quoteVerified: true, skipped: [] },
  });
}
