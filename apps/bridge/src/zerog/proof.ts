import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  type ComputeProof,
  ComputeProofSchema,
  type GpuEvidence,
  GpuEvidenceSchema,
  QuoteCollateralSchema,
  ReportDataBinding,
  type TeeEvidence,
  TeeEvidenceSchema,
} from "@chaoschain/zerog-core";
import {
  expectedReportData,
  type FetchPcsCollateralReturnType,
  type ReportDataBindingName,
  toChecksumAddress,
  toQuoteCollateral,
} from "@chaoschain/zerog-verifier";
import type { ChatExchange, ProviderAttestation, ProviderSignature } from "./provider-http.js";
import type { ServiceRecord } from "./services.js";

const sha256Hex = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

function bytesFromHexOrBase64(value: unknown): Uint8Array {
  if (typeof value !== "string" || value === "") return new Uint8Array();
  const hex = value.startsWith("0x") ? value.slice(2) : value;
  if (/^[0-9a-fA-F]*$/.test(hex) && hex.length % 2 === 0) return Buffer.from(hex, "hex");
  return Buffer.from(value, "base64");
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

function asObject(value: unknown): Record<string, unknown> {
  if (typeof value === "string") {
    try {
      return asObject(JSON.parse(value));
    } catch {
      return {};
    }
  }
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
}

const bindings: Array<[ReportDataBindingName, ReportDataBinding]> = [
  ["address-ascii", ReportDataBinding.ADDRESS_ASCII],
  ["enc-pub-v1", ReportDataBinding.ENC_PUB_V1],
  ["address-raw", ReportDataBinding.ADDRESS_RAW],
];

/** Which 0G report-data layout binds `address` in `reportData` (UNSPECIFIED when none does). */
export function detectBinding(reportData: Uint8Array, address: string): ReportDataBinding {
  if (reportData.length !== 64 || address === "") return ReportDataBinding.UNSPECIFIED;
  const same = (expected: Uint8Array) => expected.every((b, i) => b === reportData[i]);
  for (const [name, value] of bindings) {
    const encPubkey = name === "enc-pub-v1" ? reportData.slice(0, 32) : undefined;
    if (same(expectedReportData({ address, binding: name, encPubkey }))) return value;
  }
  return ReportDataBinding.UNSPECIFIED;
}

/** TEE evidence from a provider's `/v1/quote` body (dstack GetQuoteResponse). */
export function teeEvidence(
  attestation: ProviderAttestation,
  signer: string,
): { tee: TeeEvidence; quote: Uint8Array } {
  const json = attestation.json;
  const quote = bytesFromHexOrBase64(json.quote);
  const reportData = bytesFromHexOrBase64(json.report_data);
  const tcbInfo = asObject(json.tcb_info ?? asObject(json.info).tcb_info);
  const binding = detectBinding(reportData, signer);
  // Quote header bytes 4..7: TEE type, 0x81 = TDX, 0 = SGX.
  const teeType = quote.length >= 8 ? new DataView(quote.buffer, quote.byteOffset).getUint32(4, true) : -1;
  return {
    quote,
    tee: create(TeeEvidenceSchema, {
      teeType: teeType === 0x81 ? "tdx" : teeType === 0 ? "sgx" : "",
      reportDataBinding: binding,
      reportData,
      encPubkey: binding === ReportDataBinding.ENC_PUB_V1 ? reportData.slice(0, 32) : new Uint8Array(),
      eventLog: asText(json.event_log),
      appCompose: asText(tcbInfo.app_compose),
      teeVerifier: "dstack",
      rawReport: attestation.raw,
    }),
  };
}

/** What a provider's attestation contributes to a proof: quote, TEE and GPU evidence, workload digest. */
export interface ProviderEvidence {
  quote: Uint8Array;
  tee: TeeEvidence;
  gpu: GpuEvidence | undefined;
  /** `sha256:<hex>` of the app compose; `fallbackDigest` when the attestation has none. */
  dockerDigest: string;
}

/** Intel collateral a quote was checked against, embedded byte for byte in proofs (`tee.collateral`). */
export type QuoteCollateralBytes = FetchPcsCollateralReturnType;

/**
 * The evidence in a provider's `/v1/quote` body for the enclave key `signer`, with the collateral its
 * quote was checked against (when it was).
 */
export function providerEvidence(
  attestation: ProviderAttestation,
  signer: string,
  fallbackDigest = "",
  collateral?: QuoteCollateralBytes | undefined,
): ProviderEvidence {
  const { tee, quote } = teeEvidence(attestation, signer);
  if (collateral) tee.collateral = create(QuoteCollateralSchema, toQuoteCollateral(collateral));
  const gpu = asObject(attestation.json.nvidia_payload);
  const list = Array.isArray(gpu.evidence_list) ? (gpu.evidence_list as Record<string, unknown>[]) : [];
  return {
    quote,
    tee,
    dockerDigest: tee.appCompose ? `sha256:${sha256Hex(tee.appCompose)}` : fallbackDigest,
    gpu:
      Object.keys(gpu).length === 0
        ? undefined
        : create(GpuEvidenceSchema, {
            nonce: asText(gpu.nonce),
            arch: asText(gpu.arch),
            evidenceList: list.map((e) => ({
              certificate: asText(e.certificate),
              evidence: asText(e.evidence),
              arch: asText(e.arch),
            })),
            nrasToken: asText(attestation.json.nras_token),
          }),
  };
}

/** The workload digest a proof names when the attestation has no app compose: the service record's. */
export function serviceImageDigest(service: ServiceRecord): string {
  return asText(service.additionalInfo.ImageDigest);
}

/**
 * Assembles the proof of one chat exchange from evidence captured at call time: the exact bytes,
 * the enclave's signature, the attestation, the service record.
 */
export function buildProof(input: {
  exchange: ChatExchange;
  signature: ProviderSignature;
  /**
   * The provider's evidence ({@link providerEvidence}), with the collateral its quote was checked against
   * embedded byte for byte; made once per admitted attestation and shared (read-only) by its proofs.
   */
  evidence: ProviderEvidence;
  service: ServiceRecord;
  signer: string;
  /** The enclave key recovered from the signature (0x04…). */
  pubkey: string;
  chainId: bigint;
  timestamp: number;
}): ComputeProof {
  const { exchange, signature, evidence, service, signer } = input;
  const requestHash = sha256Hex(exchange.requestBody);
  const responseHash = sha256Hex(exchange.responseBody);
  return create(ComputeProofSchema, {
    method: "tee-ml",
    dockerDigest: evidence.dockerDigest,
    enclavePubkey: input.pubkey,
    attestation: evidence.quote,
    executionHash: sha256Hex(signature.text),
    signature: signature.signature,
    timestamp: BigInt(input.timestamp),
    signedText: signature.text,
    requestHash,
    responseHash,
    requestBody: exchange.requestBody,
    responseBody: exchange.responseBody,
    enclaveAddress: toChecksumAddress(signer, "signer"),
    signingAlgo: signature.signing_algo ?? "ecdsa",
    providerAddress: toChecksumAddress(service.provider, "provider"),
    chatId: exchange.chatId,
    model: service.model,
    serviceUrl: service.url,
    chainId: input.chainId,
    tee: evidence.tee,
    ...(evidence.gpu ? { gpu: evidence.gpu } : {}),
  });
}
