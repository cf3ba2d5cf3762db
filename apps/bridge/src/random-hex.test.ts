import { describe, expect, it } from "vitest";
import { randomHex } from "./random-hex.js";

describe("randomHex", () => {
  it("gives hex of the length asked, never the same twice across pool refills", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const hex = randomHex(8);
      expect(hex).toMatch(/^[0-9a-f]{16}$/);
      seen.add(hex);
    }
    expect(seen.size).toBe(3000);
    expect(randomHex(5000)).toMatch(/^[0-9a-f]{10000}$/);
  });

  it("uses every byte of the pool (no zero padding at a refill boundary)", () => {
    const bytes = Buffer.from(Array.from({ length: 4000 }, () => randomHex(3)).join(""), "hex");
    const zeros = bytes.filter((b) => b === 0).length;
    // 12,000 uniform bytes: about 47 zeros expected; a stretch of unfilled pool would add thousands.
    expect(zeros).toBeLessThan(150);
  });
});
