import { describe, expect, it } from "vitest";
import { hex } from "./views.js";

describe("hex", () => {
  it("is the lowercase hex of every byte value, in order", () => {
    const all = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
    expect(hex(all)).toBe(Buffer.from(all).toString("hex"));
    expect(hex(new Uint8Array(0))).toBe("");
    expect(hex(new Uint8Array([0, 15, 16, 255]))).toBe("000f10ff");
  });

  it("reads a view at its offset", () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5]);
    expect(hex(backing.subarray(1, 3))).toBe("0203");
  });
});
