import { describe, expect, it } from "vitest";
import { makeFixture, NOW, pki } from "../test/fixtures.js";
import { InputTooLargeError, InvalidInputError, readCollateralRequest } from "./index.js";

describe("readCollateralRequest", () => {
  it("reads the TEE type, the PCK leaf's FMSPC and its CA from a TDX and an SGX quote", () => {
    const fmspc = Buffer.from(pki.fmspc).toString("hex").toUpperCase();
    const tdx = makeFixture().result.proof.attestation as Uint8Array;
    expect(readCollateralRequest(tdx, NOW)).toEqual({ teeType: "tdx", fmspc, ca: "platform", now: NOW });
    expect(readCollateralRequest(Buffer.from(tdx).toString("hex"), NOW).fmspc).toBe(fmspc);
    const sgx = makeFixture({ sgx: {} }).result.proof.attestation as Uint8Array;
    expect(readCollateralRequest(sgx, NOW)).toMatchObject({ teeType: "sgx", fmspc });
  });

  it("throws naming the quote for a malformed or oversize one, and now for a bad time", () => {
    const tdx = makeFixture().result.proof.attestation as Uint8Array;
    expect(() => readCollateralRequest(tdx.slice(0, 100), NOW)).toThrow(
      expect.objectContaining({ field: "quote", shortMessage: expect.stringMatching(/quote_malformed/) }),
    );
    expect(() => readCollateralRequest(new Uint8Array(65 * 1024), NOW)).toThrow(InputTooLargeError);
    expect(() => readCollateralRequest(tdx, 1.5)).toThrow(expect.objectContaining({ field: "now" }));
    expect(() => readCollateralRequest(42 as never, NOW)).toThrow(InvalidInputError);
  });
});
