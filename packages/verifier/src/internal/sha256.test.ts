import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { describe, expect, it } from "vitest";
import { sha256 } from "./sha256.js";

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
});
