import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ComputeProofInput,
  createVerificationCache,
  replayEventLog,
  verifyProof,
  verifyQuote,
} from "../src/index.js";
import { hexToBytesStrict } from "../src/internal/bytes.js";
import { hostileInputs, type Mutation, mutationArbitrary } from "./arbitraries.js";
import { makeFixture, NOW } from "./fixtures.js";

const fx = makeFixture();
const options = { now: NOW, collateral: fx.collateral, policy: fx.policy, cache: createVerificationCache() };
const td = new TextDecoder();

/** Whether a mutated field means the same as the original (then the proof may stay valid). */
function neutral(m: Mutation): boolean {
  const before = td.decode(m.original);
  const after = td.decode(m.mutated);
  const sameHex = (a: string, b: string) => {
    try {
      const x = hexToBytesStrict(a, "a");
      const y = hexToBytesStrict(b, "b");
      return x.length === y.length && x.every((v, i) => v === y[i]);
    } catch {
      return false;
    }
  };
  switch (m.field) {
    case "signature":
    case "requestHash":
    case "responseHash":
    case "executionHash":
    case "enclavePubkey":
      return sameHex(before, after);
    case "enclaveAddress":
    case "dockerDigest":
      return before.toLowerCase() === after.toLowerCase();
    case "eventLog": {
      // What the replay reads: digests of boot events; names and payloads of runtime events.
      const project = (log: string) =>
        JSON.stringify(
          replayEventLog(log).events.map((e) =>
            e.event_type === 0x08000001
              ? [e.imr, e.event, e.event_payload, e.version ?? 1]
              : [e.imr, e.event_type, e.digest],
          ),
        );
      try {
        return project(before) === project(after);
      } catch {
        return false;
      }
    }
    default:
      return false;
  }
}

describe("random byte mutations of a valid proof (property)", () => {
  it("the unmutated proof is valid", async () => {
    expect((await verifyProof(fx.result, options)).ok).toBe(true);
  });
  it("never yield a valid proof unless the mutation is semantically neutral", async () => {
    await fc.assert(
      fc.asyncProperty(mutationArbitrary(fx.result), async (m) => {
        const r = await verifyProof(m.input as never, options);
        expect(r.checks.filter((c) => c.reason === "verifier_error")).toEqual([]);
        if (r.ok) expect({ field: m.field, neutral: neutral(m) }).toEqual({ field: m.field, neutral: true });
      }),
      { numRuns: 400, seed: 9 },
    );
  });
});

describe("attacker-controlled input never throws (property)", () => {
  it("any proof content yields a report", async () => {
    await fc.assert(
      fc.asyncProperty(hostileInputs(fx.result.proof as ComputeProofInput), async (input) => {
        const r = await verifyProof(input as never, options);
        expect(typeof r.ok).toBe("boolean");
        expect(r.checks.filter((c) => c.reason === "verifier_error")).toEqual([]);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
  it("any quote bytes yield a report", async () => {
    const quote = fx.att.quote;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 8000 }),
          fc.tuple(fc.nat(quote.length), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, junk]) => {
            const q = quote.slice();
            q.set(junk.subarray(0, q.length - at), at);
            return q;
          }),
          fc.nat(quote.length).map((n) => quote.subarray(0, n)),
        ),
        async (bytes) => {
          const r = await verifyQuote(bytes, fx.collateral, {
            now: NOW,
            policy: fx.policy,
            cache: options.cache,
          });
          const unchanged = bytes.length === quote.length && bytes.every((b, i) => b === quote[i]);
          expect(r.ok).toBe(unchanged);
        },
      ),
      { numRuns: 300, seed: 12 },
    );
  });
  it("any event log text yields a report", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json(), fc.string(), fc.constant("[]")), async (log) => {
        const input = {
          ...fx.result,
          proof: { ...fx.result.proof, tee: { ...fx.result.proof.tee, eventLog: log } },
        };
        const r = await verifyProof(input, options);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 200, seed: 13 },
    );
  });
});
