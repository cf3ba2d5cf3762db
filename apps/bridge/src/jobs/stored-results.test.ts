import { createHash } from "node:crypto";
import { clone, create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  BridgeChecksSchema,
  type ComputeResult,
  ComputeResultSchema,
  FineTuningDeliverySchema,
  TeeEvidenceSchema,
  UsageSchema,
} from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import { attestedResult, providerEvidence } from "../../test/stores.js";
import { knownEncoding } from "../wire/known-encodings.js";
import { AttestationCache, encodingOf, readResult, storedResult } from "./stored-results.js";

const bytes = (result: Parameters<typeof toBinary<typeof ComputeResultSchema>>[1]) =>
  Buffer.from(toBinary(ComputeResultSchema, result));

describe("storedResult / readResult", () => {
  it("splits off the attestation under the sha-256 of its bytes, and puts it back byte for byte", () => {
    const result = attestedResult("job_1", providerEvidence("provider-a"));
    const stored = storedResult(result);
    const { hash, evidence, fields } = stored.attestation!;
    expect(createHash("sha256").update(evidence).digest()).toEqual(hash);
    expect(evidence.length).toBeGreaterThan(30_000);
    expect(stored.result.length).toBeLessThan(1000);
    expect(bytes(readResult(stored.result, { fields, evidence }))).toEqual(bytes(result));
    expect(bytes(readResult(stored.result, new AttestationCache().decode(hash, evidence)))).toEqual(
      bytes(result),
    );
    // The result given is left as it was.
    expect(result.proof?.tee?.eventLog).toContain("provider-a");
  });

  it("names equal attestations by one hash whatever object holds them, and different ones by different hashes", () => {
    const a = storedResult(attestedResult("job_1", providerEvidence("provider-a"))).attestation!;
    const again = storedResult(attestedResult("job_2", providerEvidence("provider-a"))).attestation!;
    const b = storedResult(attestedResult("job_3", providerEvidence("provider-b"))).attestation!;
    expect(again.hash).toEqual(a.hash);
    expect(b.hash).not.toEqual(a.hash);
  });

  it("does not take a proof's changed quote or GPU evidence for the attestation of its TEE evidence seen before", () => {
    const evidence = providerEvidence("provider-a");
    const first = storedResult(attestedResult("job_1", evidence)).attestation!;
    const otherQuote = attestedResult("job_2", { ...evidence, quote: Buffer.from("another quote") });
    const stored = storedResult(otherQuote);
    expect(stored.attestation!.hash).not.toEqual(first.hash);
    expect(bytes(readResult(stored.result, stored.attestation))).toEqual(bytes(otherQuote));
  });

  it("keeps presence: an empty TEE evidence, a quote alone; a proof without attestation is stored whole", () => {
    for (const proof of [
      { tee: create(TeeEvidenceSchema) },
      { attestation: Buffer.from("quote") },
      { method: "tee-ml" },
    ]) {
      const result = create(ComputeResultSchema, { jobId: "job_1", output: "42", proof });
      const stored = storedResult(result);
      expect(stored.attestation === undefined).toBe(proof.method !== undefined);
      expect(bytes(readResult(stored.result, stored.attestation))).toEqual(bytes(result));
    }
  });
});

/** `result` with the proof's fine-tuning delivery (field 22), its usage and bridge checks set too. */
function everyField(result: ComputeResult): ComputeResult {
  const copy = clone(ComputeResultSchema, result);
  copy.jobId = "job_4";
  copy.proof!.signature = "0x12";
  copy.proof!.fineTuning = create(FineTuningDeliverySchema, { taskId: "t1", baseModelHash: "0xabc" });
  copy.usage = create(UsageSchema, { promptTokens: 3n, completionTokens: 4n });
  copy.bridgeChecks = create(BridgeChecksSchema, { signatureVerified: true, skipped: ["quote"] });
  return copy;
}

describe("the encoding of a stored result", () => {
  const attested = attestedResult("job_1", providerEvidence("provider-a"));
  const results = [
    attested,
    // Proof fields on both sides of the attestation's (4; 20, 21), and after them (22).
    everyField(attested),
    create(ComputeResultSchema, { jobId: "job_2", output: "42", proof: { method: "tee-ml" } }),
    create(ComputeResultSchema, { jobId: "job_3", output: "no proof" }),
    create(ComputeResultSchema, { proof: { attestation: Buffer.from("a quote alone") } }),
  ];

  it("is remembered for each result read, and is the bytes protobuf-es writes for it, field order included", () => {
    for (const result of results) {
      const stored = storedResult(result);
      const read = readResult(stored.result, stored.attestation);
      const encoding = knownEncoding(read)!;
      expect(Buffer.from(encoding)).toEqual(bytes(result));
      expect(Buffer.from(encoding)).toEqual(bytes(read));
      expect(equals(ComputeResultSchema, fromBinary(ComputeResultSchema, encoding), result)).toBe(true);
      expect(Buffer.from(encodingOf(stored))).toEqual(bytes(result));
    }
  });

  it("is the same whether the attestation came from the writer or was decoded from the store", () => {
    const stored = storedResult(results[0]!);
    const { hash, evidence } = stored.attestation!;
    const decoded = readResult(stored.result, new AttestationCache().decode(hash, evidence));
    expect(knownEncoding(decoded)).toEqual(knownEncoding(readResult(stored.result, stored.attestation)));
  });
});

describe("AttestationCache", () => {
  const entry = (name: string) => {
    const { hash, evidence } = storedResult(attestedResult("job", providerEvidence(name))).attestation!;
    return { hash, evidence };
  };

  it("keeps the most recently used attestations, up to its capacity", () => {
    const cache = new AttestationCache(2);
    const [a, b, c] = [entry("a"), entry("b"), entry("c")];
    cache.decode(a.hash, a.evidence);
    cache.decode(b.hash, b.evidence);
    expect(cache.get(a.hash)).toBeDefined();
    cache.decode(c.hash, c.evidence);
    expect(cache.size).toBe(2);
    expect(cache.get(b.hash)).toBeUndefined();
    expect(cache.get(a.hash)?.fields.tee?.eventLog).toContain("a event log");
    expect(cache.get(c.hash)).toBeDefined();
  });

  it("refuses bytes that are not the attestation the hash names, and a missing attestation", () => {
    const cache = new AttestationCache();
    const [a, b] = [entry("a"), entry("b")];
    expect(() => cache.decode(a.hash, b.evidence)).toThrow(/does not match its hash/);
    expect(() => cache.decode(a.hash, undefined)).toThrow(/is missing/);
    expect(cache.size).toBe(0);
  });
});
