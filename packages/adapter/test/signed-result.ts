import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { type ComputeResult, ComputeResultSchema, FineTuningDeliverySchema } from "@chaoschain/zerog-core";
import { createDstackAttestation, createEnclaveKey, createTestPki } from "@chaoschain/zerog-tee-sim";
import { type PolicyInput, toQuoteCollateral } from "@chaoschain/zerog-verifier";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";

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
  options: {
    now?: number;
    output?: string;
    messages?: Array<{ role: string; content: string }>;
    /** Token counts the signed response reports, and the result with them (as an honest bridge sends). */
    usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  } = {},
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
      ...(options.usage ? { usage: options.usage } : {}),
    }),
  );
  const signedText = `${sha256(requestBody)}:${sha256(responseBody)}`;
  const u = options.usage;
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
    ...(u
      ? {
          usage: {
            promptTokens: BigInt(u.prompt_tokens),
            completionTokens: BigInt(u.completion_tokens),
            totalTokens: BigInt(u.total_tokens),
          },
        }
      : {}),
  });
}

/**
 * A genuine fine-tuning `ComputeResult` (a delivery of a 1000-byte model whose GCM tags the enclave
 * signed, no settlement signature) on the attestation of {@link signedResult}, its output the artifact
 * reference. `requestBody`: unsigned chat bytes a bridge added, which no fine-tuning step reads.
 */
export function fineTuningResult(jobId: string, options: { requestBody?: Uint8Array } = {}): ComputeResult {
  const result = signedResult(jobId);
  const proof = result.proof!;
  const modelSize = 1000;
  const artifactSha256 = sha256("PK".padEnd(modelSize, "m"));
  const tags = new Uint8Array(16).fill(7);
  const rec = secp256k1.sign(keccak_256(tags), enclave.privateKey, { prehash: false, format: "recovered" });
  const tagSignature = new Uint8Array([...rec.subarray(1), rec[0] as number]);
  const taskId = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
  Object.assign(proof, {
    signedText: "",
    requestHash: "",
    responseHash: "",
    requestBody: options.requestBody ?? new Uint8Array(),
    responseBody: new Uint8Array(),
    enclavePubkey: enclave.publicKey,
    executionHash: artifactSha256,
    signature: `0x${Buffer.from(tagSignature).toString("hex")}`,
    chatId: taskId,
    model: "Qwen2.5-0.5B-Instruct",
    fineTuning: create(FineTuningDeliverySchema, {
      taskId,
      baseModelHash: `0x${"b4".repeat(32)}`,
      datasetHash: `0x${"da".repeat(32)}`,
      datasetSha256: sha256('{"text":"a"}\n'),
      trainingParams: '{"num_train_epochs":1}',
      modelRootHash: new Uint8Array(32).fill(9),
      encryptedSize: BigInt(77 + modelSize + 16),
      tags,
      tagSignature,
      encryptedSecret: new Uint8Array(129).fill(3),
      settlementNonce: "17000000000000040",
      taskFeeNeuron: "123456789",
      userAddress: "0x2222222222222222222222222222222222222222",
      fineTuningContract: "0xC6C075D8039763C8f1EbE580be5ADdf2fd6941bA",
      settlementTxHash: `0x${"5e".repeat(32)}`,
      artifactSha256,
      artifactSize: BigInt(modelSize),
    }),
  });
  result.output = JSON.stringify({
    path: `/srv/zerog/artifacts/${jobId}/model.zip`,
    sha256: artifactSha256,
    size: modelSize,
  });
  return result;
}
