import { describe, expect, it } from "vitest";
import { makeFixture, NOW, toProtoJson } from "../test/fixtures.js";
import {
  fromQuoteCollateral,
  InvalidInputError,
  normalizeCollateral,
  toQuoteCollateral,
  verifyProof,
} from "./index.js";

const fx = makeFixture();
const fetched = {
  ...fx.collateral,
  fmspc: "B0C06F000000",
  pck_ca: "platform",
  source_url: "http://127.0.0.1:1",
  fetch_time: NOW,
};

describe("toQuoteCollateral / fromQuoteCollateral", () => {
  it("round-trips collateral and its fetch metadata through the proto fields, byte for byte", () => {
    const fields = toQuoteCollateral(fetched);
    expect(fields.rootCaCrl).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(fields.pckCrl).toString("hex")).toBe(fx.collateral.pck_crl);
    expect(fields.tcbInfo).toBe(fx.collateral.tcb_info);
    expect(fields.fetchTime).toEqual({ seconds: BigInt(NOW), nanos: 0 });
    expect(fromQuoteCollateral(fields)).toEqual({
      ...normalizeCollateral(fx.collateral),
      fmspc: "B0C06F000000",
      pck_ca: "platform",
      source_url: "http://127.0.0.1:1",
      fetch_time: NOW,
    });
  });

  it("reads proto3 JSON (base64 bytes, RFC 3339 fetch_time, either name style)", () => {
    const fields = toQuoteCollateral(fetched);
    const json = JSON.parse(
      JSON.stringify(
        toProtoJson({ proof: { tee: { collateral: { ...fields, fetchTime: undefined } } } } as never),
      ),
    );
    const c = json.proof.tee.collateral;
    c.fetchTime = new Date(NOW * 1000).toISOString();
    expect(fromQuoteCollateral(c)).toMatchObject({ pck_crl: fx.collateral.pck_crl, fetch_time: NOW });
    const snake = { tcb_info: c.tcbInfo, root_ca_crl: c.rootCaCrl, fetch_time: c.fetchTime };
    expect(fromQuoteCollateral(snake)).toMatchObject({ tcb_info: fx.collateral.tcb_info, fetch_time: NOW });
  });

  it("empty collateral is no collateral", () => {
    expect(fromQuoteCollateral({})).toBeUndefined();
    expect(fromQuoteCollateral(undefined)).toBeUndefined();
  });

  it("names the field of a malformed value", () => {
    expect(() => fromQuoteCollateral({ tcbInfo: 5 }, "proof.tee.collateral")).toThrow(
      expect.objectContaining({ field: "proof.tee.collateral.tcb_info" }),
    );
    expect(() => fromQuoteCollateral({ tcbInfo: "{}", fetchTime: "yesterday" })).toThrow(InvalidInputError);
    expect(() => toQuoteCollateral({ ...fetched, fetch_time: -1 })).toThrow(
      expect.objectContaining({ field: "collateral.fetch_time" }),
    );
  });

  it("a proof embedding the proto fields verifies with no collateral passed", async () => {
    const result = structuredClone(fx.result);
    (result.proof.tee as Record<string, unknown>).collateral = toQuoteCollateral(fetched);
    const report = await verifyProof(result, { now: NOW, policy: fx.policy });
    expect(report).toMatchObject({ ok: true, collateral: "embedded" });
  });
});
