import {
  type CreateDstackAttestationParameters,
  createCollateral,
  createDstackAttestation,
  createEnclaveKey,
  createNrasKey,
  createSgxQuote,
  createTestPki,
  type EnclaveKey,
  type NrasKey,
  reportDataFor,
  type TestPki,
} from "@chaoschain/zerog-tee-sim";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import {
  type ComputeProofInput,
  type ComputeResultInput,
  fineTuningSettlementDigest,
  type PolicyInput,
} from "../src/index.js";

export const NOW = 1751624191;
export const APP_COMPOSE = JSON.stringify({
  manifest_version: 2,
  name: "zerog-llm",
  docker_compose_file: "services: {}",
});

export const pki: TestPki = createTestPki({ seed: "verifier-tests" });
export const enclave: EnclaveKey = createEnclaveKey({ seed: "verifier-tests" });
export const nrasKey: NrasKey = createNrasKey({ seed: "verifier-tests" });

export const hex = (b: Uint8Array) => bytesToHex(b);
export const sha256hex = (b: Uint8Array) => bytesToHex(sha256(b));

/** Request and response bodies of a chat completion; `created` null leaves the signed time out. */
export function chatBodies(content = "The answer is 42.", created: number | null = NOW - 10) {
  const requestBody = utf8ToBytes(
    JSON.stringify({
      model: "mock-model",
      messages: [{ role: "user", content: "What is the answer?" }],
      temperature: 0,
    }),
  );
  const responseBody = utf8ToBytes(
    JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion",
      ...(created === null ? {} : { created }),
      model: "mock-model",
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 },
    }),
  );
  return { requestBody, responseBody };
}

export interface Fixture {
  result: ComputeResultInput & { output: string; proof: ComputeProofInput };
  collateral: ReturnType<typeof createDstackAttestation>["collateral"];
  policy: PolicyInput;
  att: ReturnType<typeof createDstackAttestation>;
}

export interface FixtureOptions {
  key?: EnclaveKey;
  attestation?: Partial<Omit<CreateDstackAttestationParameters, "pki" | "now">>;
  content?: string;
  gpu?: boolean;
  now?: number;
  /** The signed response's `created` (default NOW - 10); null: none. */
  created?: number | null;
  /** Replace the response body (signed as given). */
  responseBody?: Uint8Array;
  /** Build an SGX proof (v3 quote, SGX collateral) with these enclave identity fields. */
  sgx?: { mrEnclave?: string; mrSigner?: string; isvProdId?: number; isvSvn?: number };
}

/** A complete, valid ComputeResult (protobuf-es shape: Uint8Array bytes, bigint int64) with policy and collateral. */
export function makeFixture(o: FixtureOptions = {}): Fixture {
  const now = o.now ?? NOW;
  const key = o.key ?? enclave;
  const att = createDstackAttestation({
    pki,
    signingAddress: enclave.address,
    binding: "address-ascii",
    appCompose: APP_COMPOSE,
    now,
    ...(o.gpu === false ? {} : { gpu: { nrasKey } }),
    ...o.attestation,
  });
  const bodies = chatBodies(o.content, o.created === undefined ? now - 10 : o.created);
  const proof: ComputeProofInput = {
    method: "tee-ml",
    dockerDigest: att.dockerDigest,
    attestation: att.quote,
    timestamp: BigInt(now - 30),
    enclaveAddress: enclave.address,
    signingAlgo: "ecdsa",
    providerAddress: "0x1111111111111111111111111111111111111111",
    chatId: "chat-1",
    model: "mock-model",
    serviceUrl: "http://127.0.0.1:9",
    chainId: 16602n,
    ...signedBodies(key, bodies.requestBody, o.responseBody ?? bodies.responseBody),
    tee: {
      teeType: "tdx",
      reportDataBinding: 1,
      reportData: att.reportData,
      encPubkey: new Uint8Array(0),
      eventLog: att.body.event_log,
      appCompose: APP_COMPOSE,
      teeVerifier: "dstack",
      rawReport: utf8ToBytes(JSON.stringify(att.body)),
    },
  };
  if (att.body.nvidia_payload && att.body.nras_token) {
    proof.gpu = {
      nonce: att.body.nvidia_payload.nonce,
      arch: att.body.nvidia_payload.arch,
      evidenceList: att.body.nvidia_payload.evidence_list,
      nrasToken: att.body.nras_token,
    };
  }
  const policy = pinningPolicy(pki, att, o.gpu === false ? undefined : nrasKey.jwks);
  const fx: Fixture = {
    result: { jobId: "job-1", output: o.content ?? "The answer is 42.", proof },
    collateral: att.collateral,
    policy,
    att,
  };
  return o.sgx ? asSgx(fx, o.sgx, now) : fx;
}

/** A policy that pins everything of `att`: MRTD, RTMR0-2, the workload, and GPU evidence when `jwks` is given. */
export function pinningPolicy(
  testPki: TestPki,
  att: Pick<Fixture["att"], "mrtd" | "rtmrs" | "dockerDigest">,
  jwks?: NrasKey["jwks"],
): PolicyInput {
  return {
    tee: {
      rootCaDer: testPki.rootCaDer,
      mrtd: [att.mrtd],
      rtmr0: [att.rtmrs[0]],
      rtmr1: [att.rtmrs[1]],
      rtmr2: [att.rtmrs[2]],
    },
    dockerDigests: [att.dockerDigest],
    gpu: jwks ? { required: true, jwks: structuredClone(jwks) } : { required: false },
  };
}

/** The enclave-signed part of a proof over these exact bodies. */
export function signedBodies(key: EnclaveKey, requestBody: Uint8Array, responseBody: Uint8Array) {
  const requestHash = sha256hex(requestBody);
  const responseHash = sha256hex(responseBody);
  const signedText = `${requestHash}:${responseHash}`;
  return {
    enclavePubkey: key.publicKey,
    executionHash: sha256hex(utf8ToBytes(signedText)),
    signature: key.signPersonalMessage(signedText),
    signedText,
    requestHash,
    responseHash,
    requestBody,
    responseBody,
  };
}

/** Re-signs `fx`'s proof over a new response body (as a provider would have). */
export function resign(fx: Fixture, responseBody: Uint8Array, key: EnclaveKey = enclave): Fixture {
  Object.assign(fx.result.proof, signedBodies(key, fx.result.proof.requestBody as Uint8Array, responseBody));
  return fx;
}

/** An SGX enclave's proof: v3 quote binding the enclave address, SGX collateral, SGX pins in the policy. */
function asSgx(fx: Fixture, sgx: NonNullable<FixtureOptions["sgx"]>, now: number): Fixture {
  const quote = createSgxQuote({
    pki,
    reportData: reportDataFor(enclave.address, "address-ascii"),
    ...sgx,
  });
  const mrEnclave = sgx.mrEnclave ?? hex(pki.derive("mrenclave", 32));
  const mrSigner = sgx.mrSigner ?? hex(pki.derive("mrsigner", 32));
  const p = fx.result.proof;
  p.attestation = quote;
  p.dockerDigest = "";
  p.tee = {
    teeType: "sgx",
    reportDataBinding: 1,
    reportData: reportDataFor(enclave.address, "address-ascii"),
  };
  p.gpu = undefined;
  fx.collateral = createCollateral({ pki, now, teeType: "sgx" });
  fx.policy = {
    tee: {
      rootCaDer: pki.rootCaDer,
      allowedTeeTypes: ["sgx"],
      mrEnclave: [mrEnclave],
      mrSigner: [mrSigner],
      isvProdIds: [sgx.isvProdId ?? 1],
      minIsvSvn: sgx.isvSvn ?? 1,
    },
    gpu: { required: false },
  } as PolicyInput;
  return fx;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** Proto3 JSON of a ComputeResult, with snake_case (original) or camelCase (lowerCamel) names. */
export function toProtoJson(result: Fixture["result"], style: "snake" | "camel" = "camel"): unknown {
  const name = (camel: string) =>
    style === "camel" ? camel : camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const conv = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return b64(v);
    if (typeof v === "bigint") return v.toString();
    if (Array.isArray(v)) return v.map(conv);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, val] of Object.entries(v)) {
        if (k === "reportDataBinding")
          out[name(k)] = [
            "REPORT_DATA_BINDING_UNSPECIFIED",
            "REPORT_DATA_BINDING_ADDRESS_ASCII",
            "REPORT_DATA_BINDING_ENC_PUB_V1",
            "REPORT_DATA_BINDING_ADDRESS_RAW",
          ][val as number];
        else if (val instanceof Uint8Array && val.length === 0)
          continue; // proto3 JSON omits defaults
        else out[name(k)] = conv(val);
      }
      return out;
    }
    return v;
  };
  return conv(result);
}

/** A raw secp256k1 signature of a 32-byte digest by `key` (no EIP-191 prefix): r ‖ s ‖ v, v = 0/1 + `vBase`. */
export function signDigest(key: EnclaveKey, digest: Uint8Array, vBase: 0 | 27): Uint8Array {
  const rec = secp256k1.sign(digest, key.privateKey, { prehash: false, format: "recovered" });
  return concatBytes(rec.subarray(1), Uint8Array.of((rec[0] as number) + vBase));
}

/**
 * A valid fine-tuning ComputeResult: the attestation of {@link makeFixture}, a delivery of a 1000-byte model
 * in one chunk whose tags and settlement the enclave signed, and the artifact reference as output.
 */
export function makeFineTuningFixture(o: { key?: EnclaveKey; settlement?: boolean } = {}): Fixture {
  const fx = makeFixture();
  const key = o.key ?? enclave;
  const model = utf8ToBytes("PK".padEnd(1000, "m"));
  const tags = sha256(utf8ToBytes("tags")).subarray(0, 16);
  const tagSignature = signDigest(key, keccak_256(tags), 0);
  const delivery = {
    taskId: "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
    baseModelHash: `0x${"b4".repeat(32)}`,
    datasetHash: `0x${"da".repeat(32)}`,
    datasetSha256: sha256hex(utf8ToBytes('{"text":"a"}\n')),
    trainingParams: '{"num_train_epochs":1}',
    modelRootHash: sha256(utf8ToBytes("encrypted model")),
    encryptedSize: BigInt(77 + model.length + 16),
    tags,
    tagSignature,
    encryptedSecret: new Uint8Array(129).fill(3),
    settlementSignature: new Uint8Array(0) as Uint8Array,
    settlementNonce: "17000000000000040",
    taskFeeNeuron: "123456789",
    userAddress: "0x2222222222222222222222222222222222222222",
    fineTuningContract: "0xC6C075D8039763C8f1EbE580be5ADdf2fd6941bA",
    settlementTxHash: `0x${"5e".repeat(32)}`,
    artifactSha256: sha256hex(model),
    artifactSize: BigInt(model.length),
  };
  if (o.settlement !== false) {
    delivery.settlementSignature = signDigest(
      key,
      fineTuningSettlementDigest({
        chainId: 16602n,
        fineTuningContract: delivery.fineTuningContract,
        id: delivery.taskId,
        encryptedSecret: delivery.encryptedSecret,
        modelRootHash: delivery.modelRootHash,
        nonce: BigInt(delivery.settlementNonce),
        taskFee: BigInt(delivery.taskFeeNeuron),
        user: delivery.userAddress,
      }),
      27,
    );
  }
  const p = fx.result.proof;
  for (const k of ["signedText", "requestHash", "responseHash", "requestBody", "responseBody"] as const)
    delete p[k];
  Object.assign(p, {
    enclavePubkey: key.publicKey,
    executionHash: delivery.artifactSha256,
    signature: `0x${hex(tagSignature)}`,
    chatId: delivery.taskId,
    model: "Qwen2.5-0.5B-Instruct",
    fineTuning: delivery,
  });
  fx.result.output = JSON.stringify({
    path: "/srv/zerog/artifacts/job_1/model.zip",
    sha256: delivery.artifactSha256,
    size: model.length,
  });
  return fx;
}
