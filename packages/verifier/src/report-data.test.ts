import { reportDataFor } from "@chaoschain/zerog-tee-sim";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { expectedReportData, toChecksumAddress } from "./report-data.js";

const addr = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";

describe("expectedReportData", () => {
  it("EIP-55 (spec vector)", () =>
    expect(toChecksumAddress(addr)).toBe("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"));
  it("address-ascii: 42 ASCII chars zero-padded", () => {
    const rd = expectedReportData({ address: addr, binding: "address-ascii" });
    expect(new TextDecoder().decode(rd.subarray(0, 42))).toBe("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    expect(rd.length).toBe(64);
    expect(rd.subarray(42).every((b) => b === 0)).toBe(true);
  });
  it("enc-pub-v1 layout", () => {
    const rd = expectedReportData({
      address: addr,
      binding: "enc-pub-v1",
      encPubkey: new Uint8Array(32).fill(0xee),
    });
    expect(bytesToHex(rd)).toBe(`${"ee".repeat(32)}${addr.slice(2)}00000001${"00".repeat(8)}`);
  });
  it("address-raw", () => {
    expect(bytesToHex(expectedReportData({ address: addr, binding: "address-raw" }))).toBe(
      `${addr.slice(2)}${"00".repeat(44)}`,
    );
  });
  it.each(["address-ascii", "address-raw"] as const)(
    "agrees with the independent tee-sim encoder (%s)",
    (binding) => {
      expect(bytesToHex(expectedReportData({ address: addr, binding }))).toBe(
        bytesToHex(reportDataFor(addr, binding)),
      );
    },
  );
  it("throws naming the field", () => {
    expect(() => expectedReportData({ address: "0x1", binding: "address-ascii" })).toThrow(
      expect.objectContaining({ field: "address" }),
    );
    expect(() => expectedReportData({ address: addr, binding: "enc-pub-v1" })).toThrow(
      expect.objectContaining({ field: "encPubkey" }),
    );
  });
});

describe("toChecksumAddress", () => {
  // EIP-55's own test vectors.
  const vectors = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
  ];
  it("gives the same answer for remembered addresses, in any case, and after the memory is full", () => {
    const check = () => {
      for (const v of vectors) {
        expect(toChecksumAddress(v.toLowerCase())).toBe(v);
        expect(toChecksumAddress(`0x${v.slice(2).toUpperCase()}`)).toBe(v);
        expect(toChecksumAddress(v)).toBe(v);
      }
    };
    check();
    for (let i = 0; i < 600; i++) {
      const a = `0x${i.toString(16).padStart(40, "0")}`;
      expect(toChecksumAddress(a).toLowerCase()).toBe(a);
    }
    check();
    expect(() => toChecksumAddress(`${vectors[0]}00`)).toThrow(expect.objectContaining({ field: "address" }));
  });
});
