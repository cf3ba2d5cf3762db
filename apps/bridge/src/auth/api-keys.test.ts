import { createHash } from "node:crypto";
import { ZeroGError } from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import { ApiKeysFileError, KeyRing, parseApiKeys } from "./api-keys.js";

const keyA = "zk_agent_a_0123456789abcdef";
const keyB = "zk_agent_b_fedcba9876543210";
const file = (keys: unknown[]) => JSON.stringify({ keys });

describe("API keys file", () => {
  it("reads keys with ids and limits, or their SHA-256 only; holds no key", () => {
    const keys = parseApiKeys(
      file([
        { id: "agent-a", key: keyA, rateLimit: 5, rateBurst: 10, maxJobsInFlight: 2 },
        { id: "ci", sha256: createHash("sha256").update(keyB).digest("hex").toUpperCase() },
      ]),
    );
    expect(keys.map((k) => k.id)).toEqual(["agent-a", "ci"]);
    expect(keys[0]).toMatchObject({ rateLimit: 5, rateBurst: 10, maxJobsInFlight: 2 });
    expect(JSON.stringify(keys)).not.toContain(keyA);
    const ring = new KeyRing(keys);
    expect(ring.identify(`Bearer ${keyA}`)).toMatchObject({ id: "agent-a", maxJobsInFlight: 2 });
    expect(ring.identify(`bearer   ${keyB}  `)).toMatchObject({ id: "ci" });
    expect(JSON.stringify(ring.identify(`Bearer ${keyA}`))).not.toContain("sha256");
  });

  it("marks an operator key that reaches every key's jobs (allJobs), and no other", () => {
    const keys = parseApiKeys(
      file([
        { id: "ops", key: keyA, allJobs: true },
        { id: "agent-b", key: keyB, allJobs: false },
      ]),
    );
    const ring = new KeyRing(keys);
    expect(ring.identify(`Bearer ${keyA}`)).toMatchObject({ id: "ops", allJobs: true });
    expect(ring.identify(`Bearer ${keyB}`)).not.toMatchObject({ allJobs: true });
  });

  it.each([
    ["not JSON", "{keys:", /not JSON/],
    // V8's message quotes about 10 characters around the error: here the start of the key.
    [
      "a key without its quotes",
      `{"keys": [{"id": "a", "key": ${keyB}}]}`,
      /^not JSON \(Unexpected token 'z'\)$/,
    ],
    ["no keys array", "{}", /expected \{"keys"/],
    ["a short key", file([{ id: "a", key: "short" }]), /keys\[0\]\.key \(a\) must be at least 16/],
    ["key and sha256", file([{ id: "a", key: keyA, sha256: "0".repeat(64) }]), /either key or sha256/],
    ["neither", file([{ id: "a" }]), /either key or sha256/],
    ["a bad id", file([{ id: "a b", key: keyA }]), /keys\[0\]\.id must be/],
    [
      "a repeated id",
      file([
        { id: "a", key: keyA },
        { id: "a", key: keyB },
      ]),
      /used twice/,
    ],
    [
      "a repeated key",
      file([
        { id: "a", key: keyA },
        { id: "b", key: keyA },
      ]),
      /key of another entry/,
    ],
    ["an unknown field", file([{ id: "a", key: keyA, ratelimit: 3 }]), /unknown field "ratelimit"/],
    ["a negative limit", file([{ id: "a", key: keyA, rateLimit: -1 }]), /rateLimit must be a positive/],
    ["a bad digest", file([{ id: "a", sha256: "xyz" }]), /64 hex digits/],
    [
      "allJobs not a boolean",
      file([{ id: "ops", key: keyA, allJobs: "yes" }]),
      /keys\[0\]\.allJobs \(ops\) must be true or false/,
    ],
    [
      "the id of callers without keys",
      file([{ id: "anonymous", key: keyA }]),
      /keys\[0\]\.id "anonymous" is the id of callers of a bridge without keys/,
    ],
  ])("refuses %s, naming the entry but never a key", (_, text, message) => {
    let err: unknown;
    try {
      parseApiKeys(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiKeysFileError);
    expect((err as Error).message).toMatch(message);
    for (const key of [keyA, keyB])
      for (let i = 0; i + 8 <= key.length; i++)
        expect((err as Error).message).not.toContain(key.slice(i, i + 8));
  });

  it("answers unauthenticated for a missing, malformed or unknown key, without echoing it", () => {
    const ring = new KeyRing(parseApiKeys(file([{ id: "a", key: keyA }])));
    for (const header of [undefined, "", "Basic abc", `Bearer ${keyA}x`, `Bearer ${keyA} extra`, "Bearer"]) {
      const res = ring.identify(header);
      expect(res).toBeInstanceOf(ZeroGError);
      expect((res as ZeroGError).code).toBe("unauthenticated");
      expect((res as ZeroGError).message).not.toContain(keyA);
    }
    // A 1 MB header costs one hash, and is not echoed.
    const huge = ring.identify(`Bearer ${"x".repeat(1_000_000)}`) as ZeroGError;
    expect(huge.message.length).toBeLessThan(300);
  });

  it("rotates whole: old keys stop, new keys start", () => {
    const ring = new KeyRing(parseApiKeys(file([{ id: "a", key: keyA }])));
    ring.replace(parseApiKeys(file([{ id: "b", key: keyB }])));
    expect(ring.identify(`Bearer ${keyA}`)).toBeInstanceOf(ZeroGError);
    expect(ring.identify(`Bearer ${keyB}`)).toMatchObject({ id: "b" });
    expect(ring.ids).toEqual(["b"]);
  });
});
