import { createHash } from "node:crypto";
import { create, fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type ComputeProof,
  ComputeProofSchema,
  type ComputeResult,
  ComputeResultSchema,
} from "@chaoschain/zerog-core";
import { rememberEncoding } from "../wire/known-encodings.js";
import { encoded } from "./job-sql.js";

// A result's proof carries its provider's attestation (quote, TEE evidence with Intel collateral and event
// log, GPU evidence): about 30 kB, the same in every proof of that provider. The stores keep each distinct
// attestation once, in `attestations`, keyed by the sha-256 of its bytes, and the result without it.
// Proofs are reassembled on read: a client gets the same message, byte for byte, self-contained.

/** The fields of a proof that come from the provider's attestation. */
export type Attestation = Pick<ComputeProof, "attestation" | "tee" | "gpu">;

/** An attestation as a proof carries it (`fields`), and encoded (`evidence`: a ComputeProof of those fields). */
export interface KeptAttestation {
  fields: Attestation;
  evidence: Uint8Array;
}

/** A result as stored: its bytes without the attestation, and the attestation with its hash. */
export interface StoredResult {
  result: Buffer;
  attestation: (KeptAttestation & { hash: Buffer; evidence: Buffer }) | undefined;
}

/**
 * The stored form of each attestation already seen, by its TEE evidence object: the backend makes an
 * attestation's evidence once and shares it (read-only) by every proof of that provider, so it is
 * encoded and hashed once, not once per job.
 */
const seen = new WeakMap<object, { fields: Attestation; hash: Buffer; evidence: Buffer }>();

function storedAttestation(proof: ComputeProof): StoredResult["attestation"] {
  const fields: Attestation = { attestation: proof.attestation, tee: proof.tee, gpu: proof.gpu };
  if (fields.attestation.length === 0 && !fields.tee && !fields.gpu) return undefined;
  const known = fields.tee && seen.get(fields.tee);
  if (known && known.fields.attestation === fields.attestation && known.fields.gpu === fields.gpu) {
    return known;
  }
  const evidence = encoded(ComputeProofSchema, create(ComputeProofSchema, fields));
  const stored = { fields, hash: createHash("sha256").update(evidence).digest(), evidence };
  if (fields.tee) seen.set(fields.tee, stored);
  return stored;
}

/** `result` split for storing: its proof's attestation apart (when it has one). */
export function storedResult(result: ComputeResult): StoredResult {
  const proof = result.proof;
  const attestation = proof && storedAttestation(proof);
  if (!proof || !attestation) return { result: encoded(ComputeResultSchema, result), attestation };
  const without: ComputeResult = {
    ...result,
    proof: { ...proof, attestation: new Uint8Array(0), tee: undefined, gpu: undefined },
  };
  return { result: encoded(ComputeResultSchema, without), attestation };
}

/**
 * Decoded attestations by hash, the most recently used kept (a provider's attestation changes rarely,
 * and a bridge serves few providers): reading a result decodes only its own part.
 */
export class AttestationCache {
  readonly #entries = new Map<string, KeptAttestation>();

  /** `capacity`: how many attestations are kept at most. */
  constructor(readonly capacity = 16) {}

  get size(): number {
    return this.#entries.size;
  }

  get(hash: Uint8Array): KeptAttestation | undefined {
    const key = Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString("hex");
    const found = this.#entries.get(key);
    if (found) {
      this.#entries.delete(key);
      this.#entries.set(key, found);
    }
    return found;
  }

  set(hash: Uint8Array, attestation: KeptAttestation): void {
    const key = Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString("hex");
    this.#entries.delete(key);
    this.#entries.set(key, attestation);
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /**
   * Decodes and keeps the attestation read under `hash`, checking it is the one `hash` names; throws when
   * it is not, or is missing (`undefined`).
   */
  decode(hash: Uint8Array, evidence: Uint8Array | undefined): KeptAttestation {
    const name = Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString("hex");
    if (!evidence)
      throw new Error(`the attestation ${name} of a stored result is missing: the job store is damaged`);
    if (!createHash("sha256").update(evidence).digest().equals(hash)) {
      throw new Error(`the stored attestation ${name} does not match its hash: the job store is damaged`);
    }
    const proof = fromBinary(ComputeProofSchema, evidence);
    const kept = { fields: { attestation: proof.attestation, tee: proof.tee, gpu: proof.gpu }, evidence };
    this.set(hash, kept);
    return kept;
  }
}

/**
 * A stored result, its attestation put back (`undefined` for a result stored whole). Its binary encoding
 * is remembered (`wire/known-encodings.ts`), made from the stored bytes and the attestation's: the
 * attestation is not encoded again for each read.
 */
export function readResult(bytes: Uint8Array, attestation: KeptAttestation | undefined): ComputeResult {
  const result = fromBinary(ComputeResultSchema, bytes);
  if (!attestation) return rememberEncoding(result, bytes);
  result.proof ??= create(ComputeProofSchema);
  result.proof.attestation = attestation.fields.attestation;
  result.proof.tee = attestation.fields.tee;
  result.proof.gpu = attestation.fields.gpu;
  return rememberEncoding(result, () => withAttestation(bytes, attestation.evidence));
}

/** The encoding of the result stored as `stored`. */
export function encodingOf(stored: StoredResult): Uint8Array {
  return stored.attestation ? withAttestation(stored.result, stored.attestation.evidence) : stored.result;
}

const proofField = ComputeResultSchema.field.proof.number;

/**
 * `result` (encoded, its proof without the attestation) with the fields of `evidence` (an encoded
 * ComputeProof of the attestation's fields) put into its proof, every message's fields in field-number
 * order: the bytes protobuf-es writes for the whole result. Not merely an equal message: some readers
 * (protobufjs, under @grpc/grpc-js) take a second occurrence of a message field for the whole field.
 */
function withAttestation(result: Uint8Array, evidence: Uint8Array): Uint8Array {
  const fields = fieldsOf(result);
  const at = fields.findIndex((f) => f.no >= proofField);
  const proof = fields[at]?.no === proofField ? fields[at] : undefined;
  const proofFields = proof ? fieldsOf(lengthDelimitedPayload(proof.bytes)) : [];
  const merged = [...proofFields, ...fieldsOf(evidence)].sort((a, b) => a.no - b.no);
  const payload = Buffer.concat(merged.map((f) => f.bytes));
  const header = new BinaryWriter().tag(proofField, WireType.LengthDelimited).uint32(payload.length).finish();
  const before = fields.slice(0, at === -1 ? fields.length : at).map((f) => f.bytes);
  const after = at === -1 ? [] : fields.slice(proof ? at + 1 : at).map((f) => f.bytes);
  return Buffer.concat([...before, header, payload, ...after]);
}

/** The top-level fields of an encoded message, in their order, each with its tag. */
function fieldsOf(bytes: Uint8Array): Array<{ no: number; bytes: Uint8Array }> {
  const reader = new BinaryReader(bytes);
  const fields: Array<{ no: number; bytes: Uint8Array }> = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [no, wireType] = reader.tag();
    reader.skip(wireType, no);
    fields.push({ no, bytes: bytes.subarray(start, reader.pos) });
  }
  return fields;
}

/** The payload of one length-delimited field (its tag and length dropped). */
function lengthDelimitedPayload(field: Uint8Array): Uint8Array {
  const reader = new BinaryReader(field);
  reader.tag();
  return reader.bytes();
}
