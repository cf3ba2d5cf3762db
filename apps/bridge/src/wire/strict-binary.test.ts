import { clone, create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type JobState,
  ListJobsRequestSchema,
  SubmitRequestSchema,
  type VerificationMethod,
} from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import { checkBinary } from "./strict-binary.js";

const valid = create(SubmitRequestSchema, {
  task: {
    taskType: 1,
    model: "llama-3-8b",
    inputs: { prompt: "hi", extras: { a: 1, b: { c: [true, "x"] } }, parameters: { stop: ["a", "b"] } },
  },
  idempotencyKey: "k",
});

describe("checkBinary", () => {
  it("accepts a valid message, nested messages, lists and maps (Struct) included", () => {
    expect(checkBinary(SubmitRequestSchema, toBinary(SubmitRequestSchema, valid))).toEqual([]);
  });

  it("names an unknown field number at its path", () => {
    const m = clone(SubmitRequestSchema, valid);
    m.task!.inputs!.$unknown = [{ no: 77, wireType: WireType.Varint, data: new Uint8Array([1]) }];
    const [v] = checkBinary(SubmitRequestSchema, toBinary(SubmitRequestSchema, m));
    expect(v?.field).toBe("task.inputs.77");
    expect(v?.reason).toBe("UNKNOWN_FIELD");
    expect(v?.description).toContain("unknown field number 77; TaskInputs has: 1 prompt");
  });

  it("names an unknown enum number, single and packed", () => {
    const m = clone(SubmitRequestSchema, valid);
    m.task!.verification = 9 as VerificationMethod;
    expect(checkBinary(SubmitRequestSchema, toBinary(SubmitRequestSchema, m))[0]?.field).toBe(
      "task.verification",
    );
    const list = create(ListJobsRequestSchema, { states: [1, 2, 99 as JobState] });
    expect(
      checkBinary(ListJobsRequestSchema, toBinary(ListJobsRequestSchema, list))[0]?.description,
    ).toContain("unknown value 99");
  });

  it("refuses a wire type that does not fit the field, and invalid UTF-8 in a string", () => {
    const wrongType = new BinaryWriter().tag(2, WireType.Varint).uint32(5).finish();
    expect(checkBinary(SubmitRequestSchema, wrongType)[0]?.field).toBe("idempotency_key");
    const badText = new BinaryWriter()
      .tag(2, WireType.LengthDelimited)
      .bytes(new Uint8Array([0xc3, 0x28]))
      .finish();
    expect(checkBinary(SubmitRequestSchema, badText)[0]?.description).toBe("not valid UTF-8");
  });

  it("reports malformed bytes instead of throwing", () => {
    for (const bytes of [[0x0a, 0xff], [0x0a, 0x05, 0x01], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x00]]) {
      const [v] = checkBinary(SubmitRequestSchema, new Uint8Array(bytes));
      expect(v?.reason).toBe("INVALID_VALUE");
    }
  });

  it("bounds nesting", () => {
    // google.protobuf.Struct inside Value inside Struct ..., 100 levels deep.
    let inner = new Uint8Array();
    for (let i = 0; i < 100; i++) {
      const value = new BinaryWriter().tag(5, WireType.LengthDelimited).bytes(inner).finish(); // Value.struct_value
      const entry = new BinaryWriter()
        .tag(1, WireType.LengthDelimited)
        .string("k")
        .tag(2, WireType.LengthDelimited)
        .bytes(value)
        .finish();
      inner = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(entry).finish(); // Struct.fields
    }
    const inputs = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .string("hi")
      .tag(4, WireType.LengthDelimited)
      .bytes(inner)
      .finish();
    const taskBytes = new BinaryWriter().tag(3, WireType.LengthDelimited).bytes(inputs).finish();
    const request = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(taskBytes).finish();
    const found = checkBinary(SubmitRequestSchema, request);
    expect(found[0]?.description).toContain("nested more than 32 levels");
  });
});
