import { createEnclaveKey } from "@chaoschain/zerog-tee-sim";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { claimsKey, uncompressedKey } from "./response-enclave-pubkey.js";

const key = createEnclaveKey({ seed: "claims key" });
const recovered = key.publicKey.slice(2);
const compressed = bytesToHex(secp256k1.Point.fromHex(recovered).toBytes(true));

/** Ways to write a key: the three forms, with and without 0x, any case, padded; and ways to get it wrong. */
const claim = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(recovered, recovered.slice(2), compressed, `03${compressed.slice(2)}`),
      fc.constantFrom("", "0x", "0X"),
      fc.boolean(),
      fc.constantFrom("", " ", "\n"),
    )
    .map(([hex, prefix, upper, pad]) => `${pad}${prefix}${upper ? hex.toUpperCase() : hex}${pad}`),
  fc
    .tuple(
      fc.constantFrom(recovered, recovered.slice(2), compressed),
      fc.nat(),
      fc.integer({ min: 1, max: 15 }),
    )
    .map(([hex, at, x]) => {
      const i = at % hex.length;
      return `${hex.slice(0, i)}${(Number.parseInt(hex[i] as string, 16) ^ x).toString(16)}${hex.slice(i + 1)}`;
    }),
  fc.constantFrom("", "0x", "04", `05${recovered.slice(2)}`, `${recovered}00`, `${recovered.slice(0, -1)}g`),
  fc.uint8Array({ minLength: 0, maxLength: 66 }).map(bytesToHex),
);

describe("claimsKey", () => {
  it("answers as decompressing the claim and comparing it with the recovered key would", () => {
    fc.assert(
      fc.property(claim, (text) => {
        expect({ text, answer: claimsKey(text, recovered) }).toEqual({
          text,
          answer: uncompressedKey(text) === recovered,
        });
      }),
      { numRuns: 1000, seed: 14 },
    );
  });
  it("accepts each form of the key and refuses another key", () => {
    for (const form of [key.publicKey, recovered.slice(2), `0x${compressed}`, recovered.toUpperCase()])
      expect(claimsKey(form, recovered)).toBe(true);
    const other = createEnclaveKey({ seed: "another" }).publicKey;
    expect(claimsKey(other, recovered)).toBe(false);
    expect(
      claimsKey(bytesToHex(hexToBytes(compressed).map((b, i) => (i === 0 ? b ^ 1 : b))), recovered),
    ).toBe(false);
  });
});
