import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { sha256, sha256Hex } from "./sha256.js";

describe("sha256", () => {
  it("gives @noble/hashes' digest for any bytes, views into larger buffers included", () => {
    const backing = new Uint8Array(70_000).map((_, i) => (i * 31 + 7) & 0xff);
    const inputs = [
      new Uint8Array(),
      new TextEncoder().encode("abc"),
      backing,
      backing.subarray(13, 13 + 4565), // a view at an offset, as a quote inside a proof's buffer
    ];
    for (const input of inputs) {
      const digest = sha256(input);
      expect(digest).toBeInstanceOf(Uint8Array);
      expect(digest).toEqual(nobleSha256(input));
    }
  });

  it("hashes the known vector", () => {
    expect(Buffer.from(sha256(new TextEncoder().encode("abc"))).toString("hex")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });

  it("sha256Hex of parts is the hex digest of their UTF-8 concatenation", () => {
    const backing = new Uint8Array(70_000).map((_, i) => (i * 31 + 7) & 0xff);
    const cases: (string | Uint8Array)[][] = [
      [],
      [""],
      ["abc"],
      ["tcb_info=3:", "{é}", ";", backing.subarray(5, 999)],
      ["lone \ud800 surrogate", "\udc00", "emoji 😀"],
      [backing],
    ];
    for (const parts of cases) {
      const joined = concatBytes(...parts.map((x) => (typeof x === "string" ? utf8ToBytes(x) : x)));
      expect(sha256Hex(...parts)).toBe(bytesToHex(nobleSha256(joined)));
    }
  });
});
