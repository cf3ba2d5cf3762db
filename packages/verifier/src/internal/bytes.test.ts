import { bytesToHex as nobleBytesToHex } from "@noble/hashes/utils.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesToHex } from "./bytes.js";

describe("bytesToHex", () => {
  it("gives @noble/hashes' lowercase hex for any bytes, views into larger buffers included", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (backing, a, b) => {
        const start = backing.length ? a % backing.length : 0;
        const view = backing.subarray(start, start + (b % (backing.length - start + 1)));
        expect(bytesToHex(view)).toBe(nobleBytesToHex(view));
        expect(bytesToHex(backing)).toBe(nobleBytesToHex(backing));
      }),
      { numRuns: 300, seed: 14 },
    );
  });
});
