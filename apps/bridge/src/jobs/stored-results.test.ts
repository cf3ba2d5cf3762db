import { createHash } from "node:crypto";
import { create, equals, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ComputeResultSchema, TeeEvidenceSchema } from "@chaoschain/zerog-core";
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

describe("the encoding of a stored result", () => {
  const results = [
    attestedResult("job_1", providerEvidence("provider-a")),
    create(ComputeResultSchema, { jobId: "job_2", output: "42", proof: { method: "tee-ml" } }),
    create(ComputeResultSchema, { jobId: "job_3", output: "no proof" }),
  ];

  it("is remembered for each result read, and is that result: the stored bytes, then the attestation as a second proof", () => {
    for (const result of results) {
      const stored = storedResult(result);
      const read = readResult(stored.result, stored.attestation);
      const encoding = knownEncoding(read)!;
      expect(encoding).toBeDefined();
      expect(equals(ComputeResultSchema, fromBinary(ComputeResultSchema, encoding), result)).toBe(true);
      expect(bytes(fromBinary(ComputeResultSchema, encoding))).toEqual(bytes(result));
      expect(encoding.length - stored.result.length).toBe(
        stored.attestation ? 1 + 3 + stored.attestation.evidence.length : 0, // tag, length (3 bytes), evidence
      );
      expect(encodingOf(stored)).toEqual(encoding);
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
