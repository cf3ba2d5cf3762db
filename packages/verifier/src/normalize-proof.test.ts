import { describe, expect, it } from "vitest";
import { makeFixture, toProtoJson } from "../test/fixtures.js";
import { normalizeProof, splitResult } from "./normalize-proof.js";

describe("normalizeProof", () => {
  const fx = makeFixture();
  const fromMessage = normalizeProof(fx.result.proof);
  it.each(["camel", "snake"] as const)("proto3 JSON (%s) normalises to the protobuf-es form", (style) => {
    const json = JSON.parse(JSON.stringify(toProtoJson(fx.result, style))) as { proof: never };
    expect(normalizeProof(json.proof)).toEqual(fromMessage);
  });
  it("enum names, numbers and int64 forms", () => {
    const p = normalizeProof({
      timestamp: 5,
      chain_id: "16602",
      tee: { report_data_binding: "REPORT_DATA_BINDING_ENC_PUB_V1" },
    });
    expect(p.timestamp).toBe(5n);
    expect(p.chainId).toBe(16602n);
    expect(p.tee?.binding).toBe("enc-pub-v1");
    expect(normalizeProof({ tee: { reportDataBinding: 3 } }).tee?.binding).toBe("address-raw");
  });
  it.each([
    [{ timestamp: "soon" }, "proof.timestamp"],
    [{ request_body: "***" }, "proof.request_body"],
    [{ signature: 7 }, "proof.signature"],
    [{ enclave_address: "0x1234" }, "proof.enclave_address"],
    [{ tee: "x" }, "proof.tee"],
    [{ tee: { report_data_binding: "NOPE" } }, "proof.tee.report_data_binding"],
    // names of Object.prototype's members are no binding either
    [{ tee: { report_data_binding: "toString" } }, "proof.tee.report_data_binding"],
    [{ tee: { report_data_binding: "__proto__" } }, "proof.tee.report_data_binding"],
    [{ tee: { reportDataBinding: "constructor" } }, "proof.tee.report_data_binding"],
    [{ gpu: { evidence_list: {} } }, "proof.gpu.evidence_list"],
  ])("throws InvalidInputError naming the field (%j)", (input, field) => {
    expect(() => normalizeProof(input as never)).toThrow(
      expect.objectContaining({ name: "InvalidInputError", field }),
    );
  });
  it("a field given in both spellings is refused, whether or not they agree (which one would a reader take?)", () => {
    const json = JSON.parse(JSON.stringify(toProtoJson(fx.result, "snake"))) as {
      proof: Record<string, unknown>;
    };
    for (const [snake, camel, value] of [
      ["response_body", "responseBody", "e30="],
      ["signed_text", "signedText", "x"],
      ["docker_digest", "dockerDigest", json.proof.docker_digest],
    ] as const)
      expect(() => normalizeProof({ ...json.proof, [camel]: value } as never)).toThrow(
        expect.objectContaining({ name: "InvalidInputError", field: `proof.${snake}` }),
      );
    const tee = json.proof.tee as Record<string, unknown>;
    expect(() => normalizeProof({ ...json.proof, tee: { ...tee, eventLog: "[]" } } as never)).toThrow(
      expect.objectContaining({ field: "proof.tee.event_log" }),
    );
    expect(() => normalizeProof({ fine_tuning: {}, fineTuning: {} } as never)).toThrow(
      expect.objectContaining({ field: "proof.fine_tuning" }),
    );
  });
  it("splitResult: result vs bare proof; a result without output claims the empty string", () => {
    expect(splitResult({ proof: { method: "tee-ml" } })).toEqual({ output: "", proof: { method: "tee-ml" } });
    expect(splitResult({ job_id: "j", output: "x", proof: {} })).toEqual({ output: "x", proof: {} });
    expect(splitResult({ method: "tee-ml" })).toEqual({ proof: { method: "tee-ml" } });
  });
  it.each([
    [{ output: "x", method: "tee-ml" }, "result"],
    [{ output: "x" }, "result"],
    [{ proof: {}, signature: "0x" }, "result"],
    [{ proof: "x" }, "result.proof"],
    [{ proof: {}, output: 5 }, "result.output"],
    [[], "proof"],
  ])("splitResult throws for ambiguous or malformed input %j", (input, field) => {
    expect(() => splitResult(input as never)).toThrow(
      expect.objectContaining({ name: "InvalidInputError", field }),
    );
  });
  it("size limits: an oversize body is an InputTooLargeError naming the field", () => {
    expect(() => normalizeProof({ response_body: "A".repeat(24 * 1024 * 1024) })).toThrow(
      expect.objectContaining({ name: "InputTooLargeError", field: "proof.response_body" }),
    );
  });
  it("reads embedded collateral (QuoteCollateral) into the dcap-qvl shape", () => {
    const p = normalizeProof({
      tee: { collateral: { pck_crl: "AQI=", tcbInfo: "{}", fmspc: "00" } } as never,
    });
    expect(p.tee?.collateral).toMatchObject({ pck_crl: "0102", tcb_info: "{}", root_ca_crl: "" });
    expect(normalizeProof({ tee: { collateral: {} } }).tee?.collateral).toBeUndefined();
  });
});
