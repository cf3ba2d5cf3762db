import { createEnclaveKey } from "@chaoschain/zerog-tee-sim";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it, onTestFinished } from "vitest";
import { nobleRecovery, secp256k1Recovery, useSecp256k1Recovery } from "./internal/secp256k1.js";
import { createVerificationCache } from "./verification-cache.js";
import {
  addressOfPublicKey,
  personalMessageDigest,
  recoverPersonalSigner,
  recoversTo,
  verifyResponseSignature,
} from "./verify-response-signature.js";

const enc = (s: string) => new TextEncoder().encode(s);
const key = createEnclaveKey({ seed: "sig" });
const requestBody = enc('{"model":"m","messages":[]}');
const responseBody = enc('{"choices":[{"message":{"content":"x"}}]}');
const signedText = `${bytesToHex(sha256(requestBody))}:${bytesToHex(sha256(responseBody))}`;
const signature = key.signPersonalMessage(signedText);
const ok = { requestBody, responseBody, signedText, signature, expectedAddress: key.address.toLowerCase() };

describe("verifyResponseSignature", () => {
  it("recovers the enclave signer and public key", () => {
    const r = verifyResponseSignature(ok);
    expect(r).toMatchObject({ ok: true, signer: key.address, pubkey: key.publicKey });
  });
  it("recovers with libsecp256k1 in Node, and keeps no precomputed keys then", () => {
    expect(secp256k1Recovery().name).toBe("libsecp256k1 (native)");
    const cache = createVerificationCache();
    expect(verifyResponseSignature({ ...ok, cache })).toMatchObject({ ok: true, pubkey: key.publicKey });
    expect(cache.get("knownSigner", key.address)).toBeUndefined();
  });
  it("with a cache, recovers each signature once and still rejects a wrong signer", () => {
    const cache = createVerificationCache();
    expect(verifyResponseSignature({ ...ok, cache })).toMatchObject({ ok: true, pubkey: key.publicKey });
    const recovered = cache.stats().misses;
    expect(cache.get("signer", `${signature}\n${signedText}`)).toMatchObject({ pubkey: key.publicKey });
    expect(verifyResponseSignature({ ...ok, cache })).toMatchObject({ ok: true, pubkey: key.publicKey });
    expect(cache.stats().misses).toBe(recovered);
    const other = createEnclaveKey({ seed: "other" }).address;
    expect(verifyResponseSignature({ ...ok, expectedAddress: other, cache })).toMatchObject({
      ok: false,
      reason: "signature_mismatch",
    });
    const forged = key.signPersonalMessage(`${signedText.slice(0, -1)}0`);
    expect(verifyResponseSignature({ ...ok, signature: forged, cache }).ok).toBe(false);
  });
  it("with @noble/curves and a cache, checks later signatures of a known signer without recovery, with the same answers", () => {
    onTestFinished(useSecp256k1Recovery(nobleRecovery));
    const exchange = (i: number) => {
      const req = enc(`request ${i}`);
      const res = enc(`response ${i}`);
      return {
        requestBody: req,
        responseBody: res,
        signedText: `${bytesToHex(sha256(req))}:${bytesToHex(sha256(res))}`,
      };
    };
    const evil = createEnclaveKey({ seed: "evil" });
    const flip = (sig: string, at: number) =>
      `${sig.slice(0, at)}${sig[at] === "0" ? "1" : "0"}${sig.slice(at + 1)}`;
    // Every way a signature can go wrong, each checked with and without the known-signer fast path.
    const checks = Array.from({ length: 16 }, (_, i) => {
      const e = exchange(i);
      const sig = key.signPersonalMessage(e.signedText);
      const v = Number.parseInt(sig.slice(-2), 16);
      return [
        sig,
        `${sig.slice(0, -2)}${(v === 27 ? 28 : 27).toString(16)}`, // other y parity
        flip(sig, 10), // r changed
        flip(sig, 100), // s changed
        key.signPersonalMessage(exchange(i + 100).signedText), // signs another exchange
        evil.signPersonalMessage(e.signedText), // another key
      ].map((signature) => ({ ...e, signature, expectedAddress: key.address }));
    }).flat();
    const cache = createVerificationCache();
    expect(verifyResponseSignature({ ...checks[0]!, cache })).toMatchObject({
      ok: true,
      pubkey: key.publicKey,
    });
    expect(cache.get("knownSigner", key.address)).toBeDefined();
    for (const check of checks.slice(1)) {
      const answer = verifyResponseSignature({ ...check, cache });
      expect({ signature: check.signature, answer }).toEqual({
        signature: check.signature,
        answer: verifyResponseSignature(check),
      });
    }
    expect(cache.get("knownSigner", evil.address)).toBeUndefined();
    expect(checks.filter((c) => verifyResponseSignature({ ...c, cache }).ok)).toHaveLength(16);
    // The fast path itself: true exactly for the genuine signatures.
    const known = cache.get("knownSigner", key.address)!;
    expect(checks.filter((c) => recoversTo(c.signedText, c.signature, known))).toHaveLength(16);
  });
  it("private key 1 → 0x7E5F…5Bdf, and its EIP-191 signatures recover to it", () => {
    const d = new Uint8Array(32);
    d[31] = 1;
    const pub = secp256k1.getPublicKey(d, false);
    expect(addressOfPublicKey(pub)).toBe("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
    const rec = secp256k1.sign(personalMessageDigest("hello"), d, { prehash: false, format: "recovered" });
    const sig = `0x${bytesToHex(rec.subarray(1))}${((rec[0] as number) + 27).toString(16)}`;
    expect(recoverPersonalSigner("hello", sig)?.address).toBe("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  });
  it.each([
    ["request byte changed", { requestBody: enc('{"model":"n","messages":[]}') }, "request_hash_mismatch"],
    [
      "response byte changed",
      { responseBody: enc('{"choices":[{"message":{"content":"y"}}]}') },
      "response_hash_mismatch",
    ],
    ["signed text without separator", { signedText: signedText.replace(":", "") }, "signed_text_mismatch"],
    ["signed text upper-case", { signedText: signedText.toUpperCase() }, "signed_text_mismatch"],
    [
      "other signer",
      { signature: createEnclaveKey({ seed: "evil" }).signPersonalMessage(signedText) },
      "signature_mismatch",
    ],
    ["v = 29", { signature: `${signature.slice(0, -2)}1d` }, "signature_invalid"],
  ] as const)("%s → %s", (_n, change, reason) => {
    const r = verifyResponseSignature({ ...ok, ...change });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe(reason);
  });
  it("accepts v = 0/1", () => {
    const v = Number.parseInt(signature.slice(-2), 16) - 27;
    expect(verifyResponseSignature({ ...ok, signature: `${signature.slice(0, -2)}0${v}` }).ok).toBe(true);
  });
  it("throws InvalidInputError for malformed input", () => {
    expect(() => verifyResponseSignature({ ...ok, signature: "0x1234" })).toThrow(
      expect.objectContaining({ field: "signature" }),
    );
    expect(() => verifyResponseSignature({ ...ok, requestBody: "x" as never })).toThrow(
      expect.objectContaining({ field: "requestBody" }),
    );
    expect(() => verifyResponseSignature({ ...ok, expectedAddress: "0x12" })).toThrow(
      expect.objectContaining({ field: "expectedAddress" }),
    );
  });
});
