import fc from "fast-check";
import type { ComputeProofInput } from "../src/index.js";
import type { Fixture } from "./fixtures.js";

/** Fields of a proof (and result) whose bytes a mutation may change, and how to read/write them as bytes. */
const FIELDS = {
  attestation: "bytes",
  requestBody: "bytes",
  responseBody: "bytes",
  signature: "text",
  signedText: "text",
  requestHash: "text",
  responseHash: "text",
  executionHash: "text",
  enclavePubkey: "text",
  enclaveAddress: "text",
  dockerDigest: "text",
  eventLog: "tee-text",
  appCompose: "tee-text",
  reportData: "tee-bytes",
  nrasToken: "gpu-text",
  output: "output",
} as const;

export type MutatedField = keyof typeof FIELDS;

export interface Mutation {
  field: MutatedField;
  original: Uint8Array;
  mutated: Uint8Array;
  input: unknown;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function read(result: Fixture["result"], field: MutatedField): Uint8Array {
  const p = result.proof as Record<string, unknown>;
  const kind = FIELDS[field];
  const v =
    kind === "output"
      ? result.output
      : kind.startsWith("tee")
        ? (p.tee as Record<string, unknown>)[field]
        : kind.startsWith("gpu")
          ? (p.gpu as Record<string, unknown>)[field]
          : p[field];
  return v instanceof Uint8Array ? v : enc.encode(String(v));
}

function write(result: Fixture["result"], field: MutatedField, bytes: Uint8Array): unknown {
  const kind = FIELDS[field];
  const value = kind.endsWith("bytes") ? bytes : dec.decode(bytes);
  const proof = { ...result.proof } as Record<string, unknown>;
  if (kind === "output") return { ...result, output: value };
  if (kind.startsWith("tee")) proof.tee = { ...(proof.tee as object), [field]: value };
  else if (kind.startsWith("gpu")) proof.gpu = { ...(proof.gpu as object), [field]: value };
  else proof[field] = value;
  return { ...result, proof };
}

/** 1-3 bytes of one field XOR-ed with non-zero masks. */
export function mutationArbitrary(result: Fixture["result"]): fc.Arbitrary<Mutation> {
  return fc.constantFrom(...(Object.keys(FIELDS) as MutatedField[])).chain((field) => {
    const original = read(result, field);
    return fc
      .array(fc.tuple(fc.nat(Math.max(0, original.length - 1)), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 3,
      })
      .map((edits) => {
        const mutated = original.slice();
        for (const [at, mask] of edits) mutated[at] = (mutated[at] as number) ^ mask;
        return { field, original, mutated, input: write(result, field, mutated) };
      })
      .filter((m) => m.mutated.some((b, i) => b !== m.original[i]));
  });
}

/** Proofs whose fields hold anything: wrong types, junk bytes, huge numbers, nested garbage. */
export function hostileInputs(proof: ComputeProofInput): fc.Arbitrary<unknown> {
  const junk = fc.oneof(
    fc.anything({ maxDepth: 2 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.string({ maxLength: 64 }),
    fc.bigInt(),
    fc.double(),
  );
  const keys = Object.keys(proof);
  const teeKeys = [
    "teeType",
    "reportDataBinding",
    "reportData",
    "encPubkey",
    "eventLog",
    "appCompose",
    "collateral",
  ];
  const gpuKeys = ["nonce", "arch", "evidenceList", "nrasToken"];
  return fc
    .record({
      top: fc.dictionary(fc.constantFrom(...keys), junk, { maxKeys: 4 }),
      tee: fc.dictionary(fc.constantFrom(...teeKeys), junk, { maxKeys: 3 }),
      gpu: fc.dictionary(fc.constantFrom(...gpuKeys), junk, { maxKeys: 2 }),
      output: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    })
    .map(({ top, tee, gpu, output }) => ({
      output: output ?? "x",
      proof: {
        ...proof,
        ...top,
        tee: { ...(proof.tee as object), ...tee },
        gpu: { ...(proof.gpu as object), ...gpu },
      },
    }));
}
