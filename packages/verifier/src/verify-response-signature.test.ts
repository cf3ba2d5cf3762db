import { createEnclaveKey } from "@chaoschain/zerog-tee-sim";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { createVerificationCache } from "./verification-cache.js";
import {
  addressOfPublicKey,
  personalMessageDigest,
  recoverPersonalSigner,
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
  it("with a cache, recovers each signature once and still rejects a wrong signer", () => {
    const cache = createVerificationCache();
    expect(verifyResponseSignature({ ...ok, cache })).toMatchObject({ ok: true, pubkey: key.publicKey });
    expect(cache._signers.size).toBe(1);
    expect(verifyResponseSignature({ ...ok, cache })).toMatchObject({ ok: true, pubkey: key.publicKey });
    expect(cache._signers.size).toBe(1);
    const other = createEnclaveKey({ seed: "other" }).address;
    expect(verifyResponseSignature({ ...ok, expectedAddress: other, cache })).toMatchObject({
      ok: false,
      reason: "signature_mismatch",
    });
    const forged = key.signPersonalMessage(`${signedText.slice(0, -1)}0`);
    expect(verifyResponseSignature({ ...ok, signature: forged, cache }).ok).toBe(false);
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
