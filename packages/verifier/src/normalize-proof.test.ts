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
    [{ tee: { report_data_binding: "NOPE" } }, "proof.tee.report_data_binding"],
    [{ gpu: { evidence_list: {} } }, "proof.gpu.evidence_list"],
  ])("throws InvalidInputError naming the field (%j)", (input, field) => {
    expect(() => normalizeProof(input as never)).toThrow(
      expect.objectContaining({ name: "InvalidInputError", field }),
    );
  });
  it("splitResult: result vs bare proof; a result without output claims the empty string", () => {
    expect(splitResult({ proof: { method: "tee-ml" } })).toEqual({ output: "", proof: { method: "tee-ml" } });
    expect(splitResult({ method: "tee-ml" })).toEqual({ proof: { method: "tee-ml" } });
  });
});
