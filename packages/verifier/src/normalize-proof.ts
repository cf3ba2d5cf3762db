import type { Collateral } from "./collateral.js";
import { InvalidInputError } from "./errors/input.js";
import { bytes, int64, object, pick, str } from "./internal/proto-fields.js";
import { LIMITS } from "./limits.js";
import type { ReportDataBindingName } from "./policy.js";
import { fromQuoteCollateral, type QuoteCollateralInput } from "./quote-collateral.js";
import { toChecksumAddress } from "./report-data.js";

/** Bytes as protobuf-es gives them (Uint8Array) or as proto3 JSON does (base64, standard or URL-safe). */
export type BytesInput = Uint8Array | string;
/** int64 as protobuf-es (bigint) or proto3 JSON (decimal string, or number). */
export type Int64Input = bigint | number | string;
/** ReportDataBinding as enum number or proto enum name. */
export type ReportDataBindingInput =
  | number
  | "REPORT_DATA_BINDING_UNSPECIFIED"
  | "REPORT_DATA_BINDING_ADDRESS_ASCII"
  | "REPORT_DATA_BINDING_ENC_PUB_V1"
  | "REPORT_DATA_BINDING_ADDRESS_RAW";

type O<T> = T | undefined;

export interface GpuDeviceEvidenceInput {
  certificate?: O<string>;
  evidence?: O<string>;
  arch?: O<string>;
}

/** `GpuEvidence`: protobuf-es object or proto3 JSON (camelCase or snake_case). */
export interface GpuEvidenceInput {
  nonce?: O<string>;
  arch?: O<string>;
  evidenceList?: O<GpuDeviceEvidenceInput[]>;
  evidence_list?: O<GpuDeviceEvidenceInput[]>;
  nrasToken?: O<string>;
  nras_token?: O<string>;
}

/** `TeeEvidence`: protobuf-es object or proto3 JSON (camelCase or snake_case). */
export interface TeeEvidenceInput {
  collateral?: O<QuoteCollateralInput>;
  teeType?: O<string>;
  tee_type?: O<string>;
  reportDataBinding?: O<ReportDataBindingInput>;
  report_data_binding?: O<ReportDataBindingInput>;
  reportData?: O<BytesInput>;
  report_data?: O<BytesInput>;
  encPubkey?: O<BytesInput>;
  enc_pubkey?: O<BytesInput>;
  eventLog?: O<string>;
  event_log?: O<string>;
  appCompose?: O<string>;
  app_compose?: O<string>;
  teeVerifier?: O<string>;
  tee_verifier?: O<string>;
  rawReport?: O<BytesInput>;
  raw_report?: O<BytesInput>;
}

/** `FineTuningDelivery`: protobuf-es object or proto3 JSON (camelCase or snake_case). */
export interface FineTuningDeliveryInput {
  taskId?: O<string>;
  task_id?: O<string>;
  baseModelHash?: O<string>;
  base_model_hash?: O<string>;
  datasetHash?: O<string>;
  dataset_hash?: O<string>;
  datasetSha256?: O<string>;
  dataset_sha256?: O<string>;
  trainingParams?: O<string>;
  training_params?: O<string>;
  modelRootHash?: O<BytesInput>;
  model_root_hash?: O<BytesInput>;
  encryptedSize?: O<Int64Input>;
  encrypted_size?: O<Int64Input>;
  tags?: O<BytesInput>;
  tagSignature?: O<BytesInput>;
  tag_signature?: O<BytesInput>;
  encryptedSecret?: O<BytesInput>;
  encrypted_secret?: O<BytesInput>;
  settlementSignature?: O<BytesInput>;
  settlement_signature?: O<BytesInput>;
  settlementNonce?: O<string>;
  settlement_nonce?: O<string>;
  taskFeeNeuron?: O<string>;
  task_fee_neuron?: O<string>;
  userAddress?: O<string>;
  user_address?: O<string>;
  fineTuningContract?: O<string>;
  fine_tuning_contract?: O<string>;
  settlementTxHash?: O<string>;
  settlement_tx_hash?: O<string>;
  artifactSha256?: O<string>;
  artifact_sha256?: O<string>;
  artifactSize?: O<Int64Input>;
  artifact_size?: O<Int64Input>;
}

/**
 * `ComputeProof` as the protobuf-es message (camelCase, Uint8Array, bigint) or its proto3 JSON form
 * (camelCase or original snake_case names, base64 bytes, int64 as string/number, enum names).
 */
export interface ComputeProofInput {
  method?: O<string>;
  dockerDigest?: O<string>;
  docker_digest?: O<string>;
  enclavePubkey?: O<string>;
  enclave_pubkey?: O<string>;
  attestation?: O<BytesInput>;
  executionHash?: O<string>;
  execution_hash?: O<string>;
  signature?: O<string>;
  timestamp?: O<Int64Input>;
  signedText?: O<string>;
  signed_text?: O<string>;
  requestHash?: O<string>;
  request_hash?: O<string>;
  responseHash?: O<string>;
  response_hash?: O<string>;
  requestBody?: O<BytesInput>;
  request_body?: O<BytesInput>;
  responseBody?: O<BytesInput>;
  response_body?: O<BytesInput>;
  enclaveAddress?: O<string>;
  enclave_address?: O<string>;
  signingAlgo?: O<string>;
  signing_algo?: O<string>;
  providerAddress?: O<string>;
  provider_address?: O<string>;
  chatId?: O<string>;
  chat_id?: O<string>;
  model?: O<string>;
  serviceUrl?: O<string>;
  service_url?: O<string>;
  chainId?: O<Int64Input>;
  chain_id?: O<Int64Input>;
  tee?: O<TeeEvidenceInput>;
  gpu?: O<GpuEvidenceInput>;
  fineTuning?: O<FineTuningDeliveryInput>;
  fine_tuning?: O<FineTuningDeliveryInput>;
}

/** `ComputeResult` (GetResult's response): output plus proof. */
export interface ComputeResultInput {
  jobId?: O<string>;
  job_id?: O<string>;
  output?: O<string>;
  proof?: O<ComputeProofInput>;
  usage?: O<unknown>;
}

/** A proof normalised to one shape (bytes as Uint8Array, int64 as bigint, binding as a name). */
export interface NormalizedProof {
  method: string;
  dockerDigest: string;
  enclavePubkey: string;
  attestation: Uint8Array;
  executionHash: string;
  signature: string;
  timestamp: bigint;
  signedText: string;
  requestHash: string;
  responseHash: string;
  requestBody: Uint8Array;
  responseBody: Uint8Array;
  enclaveAddress: string;
  signingAlgo: string;
  providerAddress: string;
  chatId: string;
  model: string;
  serviceUrl: string;
  chainId: bigint;
  tee?: {
    teeType: string;
    binding: ReportDataBindingName | "unspecified";
    reportData: Uint8Array;
    encPubkey: Uint8Array;
    eventLog: string;
    appCompose: string;
    teeVerifier: string;
    rawReport: Uint8Array;
    /** Collateral embedded by the bridge (dcap-qvl shape, bytes as hex), when present. */
    collateral?: Collateral;
  };
  gpu?: {
    nonce: string;
    arch: string;
    evidenceList: Array<{ certificate: string; evidence: string; arch: string }>;
    nrasToken: string;
  };
  /** A fine-tuning proof's delivery (see `FineTuningDelivery` in the contract). */
  fineTuning?: NormalizedFineTuningDelivery;
}

/** `FineTuningDelivery` normalised: bytes as Uint8Array, sizes as bigint. */
export interface NormalizedFineTuningDelivery {
  taskId: string;
  baseModelHash: string;
  datasetHash: string;
  datasetSha256: string;
  trainingParams: string;
  modelRootHash: Uint8Array;
  encryptedSize: bigint;
  tags: Uint8Array;
  tagSignature: Uint8Array;
  encryptedSecret: Uint8Array;
  settlementSignature: Uint8Array;
  settlementNonce: string;
  taskFeeNeuron: string;
  userAddress: string;
  fineTuningContract: string;
  settlementTxHash: string;
  artifactSha256: string;
  artifactSize: bigint;
}

const BINDINGS: Record<string, ReportDataBindingName | "unspecified"> = {
  "0": "unspecified",
  "1": "address-ascii",
  "2": "enc-pub-v1",
  "3": "address-raw",
  REPORT_DATA_BINDING_UNSPECIFIED: "unspecified",
  REPORT_DATA_BINDING_ADDRESS_ASCII: "address-ascii",
  REPORT_DATA_BINDING_ENC_PUB_V1: "enc-pub-v1",
  REPORT_DATA_BINDING_ADDRESS_RAW: "address-raw",
};

/**
 * Normalises a `ComputeProof` in any accepted form. Throws {@link InvalidInputError} naming the field when a
 * value has the wrong type or encoding (an {@link InputTooLargeError} when it exceeds its `LIMITS` entry).
 * `verifyProof` reports both as an invalid proof (`proof_malformed`, `input_too_large`).
 */
export function normalizeProof(input: ComputeProofInput): NormalizedProof {
  if (typeof input !== "object" || input === null) throw new InvalidInputError("proof", "expected an object");
  const o = input as Record<string, unknown>;
  const p = (field: string) => `proof.${field}`;
  const out: NormalizedProof = {
    method: str(o, "method", "method", p("method")),
    dockerDigest: str(o, "dockerDigest", "docker_digest", p("docker_digest")),
    enclavePubkey: str(o, "enclavePubkey", "enclave_pubkey", p("enclave_pubkey")),
    attestation: bytes(o, "attestation", "attestation", p("attestation"), LIMITS.quoteBytes),
    executionHash: str(o, "executionHash", "execution_hash", p("execution_hash")),
    signature: str(o, "signature", "signature", p("signature")),
    timestamp: int64(o, "timestamp", "timestamp", p("timestamp")),
    signedText: str(o, "signedText", "signed_text", p("signed_text")),
    requestHash: str(o, "requestHash", "request_hash", p("request_hash")),
    responseHash: str(o, "responseHash", "response_hash", p("response_hash")),
    requestBody: bytes(o, "requestBody", "request_body", p("request_body"), LIMITS.bodyBytes),
    responseBody: bytes(o, "responseBody", "response_body", p("response_body"), LIMITS.bodyBytes),
    enclaveAddress: str(o, "enclaveAddress", "enclave_address", p("enclave_address")),
    signingAlgo: str(o, "signingAlgo", "signing_algo", p("signing_algo")),
    providerAddress: str(o, "providerAddress", "provider_address", p("provider_address")),
    chatId: str(o, "chatId", "chat_id", p("chat_id")),
    model: str(o, "model", "model", p("model")),
    serviceUrl: str(o, "serviceUrl", "service_url", p("service_url")),
    chainId: int64(o, "chainId", "chain_id", p("chain_id")),
  };
  if (out.enclaveAddress !== "") toChecksumAddress(out.enclaveAddress, "proof.enclave_address");
  const t = object(o.tee, "proof.tee");
  if (t) {
    const b = pick(t, "reportDataBinding", "report_data_binding", "proof.tee.report_data_binding") ?? 0;
    const binding = Object.hasOwn(BINDINGS, String(b)) ? BINDINGS[String(b)] : undefined;
    if (!binding) throw new InvalidInputError("proof.tee.report_data_binding", `unknown value ${String(b)}`);
    out.tee = {
      teeType: str(t, "teeType", "tee_type", "proof.tee.tee_type"),
      binding,
      reportData: bytes(t, "reportData", "report_data", "proof.tee.report_data"),
      encPubkey: bytes(t, "encPubkey", "enc_pubkey", "proof.tee.enc_pubkey"),
      eventLog: str(t, "eventLog", "event_log", "proof.tee.event_log", LIMITS.eventLogBytes),
      appCompose: str(t, "appCompose", "app_compose", "proof.tee.app_compose", LIMITS.appComposeBytes),
      teeVerifier: str(t, "teeVerifier", "tee_verifier", "proof.tee.tee_verifier"),
      rawReport: bytes(t, "rawReport", "raw_report", "proof.tee.raw_report", LIMITS.bodyBytes),
    };
    const collateral = fromQuoteCollateral(t.collateral, "proof.tee.collateral");
    if (collateral) out.tee.collateral = collateral;
  }
  const g = object(o.gpu, "proof.gpu");
  if (g) {
    const list = pick(g, "evidenceList", "evidence_list", "proof.gpu.evidence_list") ?? [];
    if (!Array.isArray(list)) throw new InvalidInputError("proof.gpu.evidence_list", "expected an array");
    if (list.length > LIMITS.gpuEvidenceEntries)
      throw new InvalidInputError(
        "proof.gpu.evidence_list",
        `more than ${LIMITS.gpuEvidenceEntries} entries`,
      );
    out.gpu = {
      nonce: str(g, "nonce", "nonce", "proof.gpu.nonce"),
      arch: str(g, "arch", "arch", "proof.gpu.arch"),
      evidenceList: list.map((e, i) => {
        const f = `proof.gpu.evidence_list[${i}]`;
        const r = object(e, f) ?? {};
        return {
          certificate: str(r, "certificate", "certificate", `${f}.certificate`, LIMITS.bodyBytes),
          evidence: str(r, "evidence", "evidence", `${f}.evidence`, LIMITS.bodyBytes),
          arch: str(r, "arch", "arch", `${f}.arch`),
        };
      }),
      nrasToken: str(g, "nrasToken", "nras_token", "proof.gpu.nras_token", LIMITS.nrasTokenBytes),
    };
  }
  const f = object(pick(o, "fineTuning", "fine_tuning", "proof.fine_tuning"), "proof.fine_tuning");
  if (f) out.fineTuning = fineTuningOf(f);
  return out;
}

function fineTuningOf(f: Record<string, unknown>): NormalizedFineTuningDelivery {
  const field = (k: string) => `proof.fine_tuning.${k}`;
  const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_, x: string) => x.toUpperCase());
  const text = (k: string) => str(f, camel(k), k, field(k));
  const raw = (k: string) => bytes(f, camel(k), k, field(k));
  return {
    taskId: text("task_id"),
    baseModelHash: text("base_model_hash"),
    datasetHash: text("dataset_hash"),
    datasetSha256: text("dataset_sha256"),
    trainingParams: text("training_params"),
    modelRootHash: raw("model_root_hash"),
    encryptedSize: int64(f, "encryptedSize", "encrypted_size", field("encrypted_size")),
    tags: raw("tags"),
    tagSignature: raw("tag_signature"),
    encryptedSecret: raw("encrypted_secret"),
    settlementSignature: raw("settlement_signature"),
    settlementNonce: text("settlement_nonce"),
    taskFeeNeuron: text("task_fee_neuron"),
    userAddress: text("user_address"),
    fineTuningContract: text("fine_tuning_contract"),
    settlementTxHash: text("settlement_tx_hash"),
    artifactSha256: text("artifact_sha256"),
    artifactSize: int64(f, "artifactSize", "artifact_size", field("artifact_size")),
  };
}

/** Fields of `ComputeProof` (both spellings), to tell a result from a bare proof. */
const PROOF_FIELDS = new Set(
  [
    "method",
    "dockerDigest",
    "enclavePubkey",
    "attestation",
    "executionHash",
    "signature",
    "timestamp",
    "signedText",
    "requestHash",
    "responseHash",
    "requestBody",
    "responseBody",
    "enclaveAddress",
    "signingAlgo",
    "providerAddress",
    "chatId",
    "model",
    "serviceUrl",
    "chainId",
    "tee",
    "gpu",
    "fineTuning",
  ].flatMap((k) => [k, k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]),
);

/**
 * Splits a `ComputeResult` (output + nested proof) from a bare `ComputeProof`. Ambiguous input throws: an
 * `output` without a nested `proof` object (a flattened result), or a `proof` object next to proof fields.
 * A result always gets its `output` checked; proto3 JSON omits empty strings, so a result without `output`
 * claims "".
 *
 * @throws {InvalidInputError} (field "result" or "result.output") for ambiguous or malformed input.
 */
export function splitResult(input: ComputeResultInput | ComputeProofInput): {
  output?: string;
  proof: ComputeProofInput;
} {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw new InvalidInputError("proof", "expected an object");
  const r = input as ComputeResultInput & Record<string, unknown>;
  const proofFields = Object.keys(r).filter((k) => PROOF_FIELDS.has(k) && r[k] !== undefined);
  if (r.proof !== undefined && r.proof !== null) {
    if (typeof r.proof !== "object" || Array.isArray(r.proof))
      throw new InvalidInputError("result.proof", "expected an object");
    if (proofFields.length > 0)
      throw new InvalidInputError(
        "result",
        `ambiguous: a nested proof and proof fields (${proofFields.join(", ")}) at the top`,
      );
    if (r.output !== undefined && r.output !== null && typeof r.output !== "string")
      throw new InvalidInputError("result.output", "expected a string");
    return { output: r.output ?? "", proof: r.proof };
  }
  if ("output" in r && r.output !== undefined)
    throw new InvalidInputError(
      "result",
      "ambiguous: an output without a nested proof (a flattened ComputeResult?)",
      {
        metaMessages: [
          "Pass a ComputeResult as { output, proof: {...} } or a bare ComputeProof without output.",
        ],
      },
    );
  return { proof: input as ComputeProofInput };
}
