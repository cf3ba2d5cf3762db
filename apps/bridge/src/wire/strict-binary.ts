import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { FieldViolation } from "@chaoschain/zerog-core";
import { acceptedEnumValues, isEnumValue } from "./enums.js";
import { fieldPath, maxDepth, Violations } from "./violations.js";

/**
 * Checks a request in the protobuf binary encoding against its message type before it is decoded:
 * malformed bytes, a field number the type does not have, a wire type that does not fit the field, an
 * enum number the enum does not have, and a string that is not valid UTF-8 are each a violation naming
 * the field. Unknown fields are refused rather than skipped: the sender meant something by them
 * (a client built from a newer contract) that this bridge would otherwise silently not do.
 */
export function checkBinary(desc: DescMessage, bytes: Uint8Array): FieldViolation[] {
  const violations = new Violations();
  walkMessage(desc, bytes, "", violations, 0);
  return violations.result();
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const fieldsByNumber = new WeakMap<DescMessage, Map<number, DescField>>();

function fieldsOf(desc: DescMessage): Map<number, DescField> {
  let map = fieldsByNumber.get(desc);
  if (!map) {
    map = new Map(desc.fields.map((f) => [f.number, f]));
    fieldsByNumber.set(desc, map);
  }
  return map;
}

function wireTypeOf(type: ScalarType): WireType {
  switch (type) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    default:
      return WireType.Varint;
  }
}

function walkMessage(desc: DescMessage, bytes: Uint8Array, path: string, v: Violations, depth: number): void {
  const at = path || "request";
  if (depth > maxDepth) {
    v.add(at, "OUT_OF_RANGE", `nested more than ${maxDepth} levels deep`);
    return;
  }
  const fields = fieldsOf(desc);
  const reader = new BinaryReader(bytes);
  const counts = new Map<DescField, number>();
  try {
    while (reader.pos < reader.len) {
      const [number, wireType] = reader.tag();
      const field = fields.get(number);
      if (!field) {
        const known = desc.fields.map((f) => `${f.number} ${f.name}`).join(", ");
        v.add(
          path ? `${path}.${number}` : String(number),
          "UNKNOWN_FIELD",
          `unknown field number ${number}; ${desc.name} has: ${known} (a client built from a newer contract? upgrade the bridge or leave the field out)`,
        );
        reader.skip(wireType, number);
        continue;
      }
      const index = counts.get(field) ?? 0;
      counts.set(field, index + 1);
      walkField(field, wireType, reader, fieldPath(path, field.name), index, v, depth);
    }
  } catch (err) {
    v.add(
      at,
      "INVALID_VALUE",
      `not a valid ${desc.name} in the protobuf binary encoding: ${(err as Error).message}`,
    );
  }
}

function walkField(
  field: DescField,
  wireType: WireType,
  reader: BinaryReader,
  at: string,
  index: number,
  v: Violations,
  depth: number,
): void {
  const expect = (wanted: WireType): boolean => {
    if (wireType === wanted) return true;
    v.add(
      at,
      "INVALID_TYPE",
      `wire type ${WireType[wireType]} does not fit this field (${WireType[wanted]})`,
    );
    reader.skip(wireType);
    return false;
  };
  switch (field.fieldKind) {
    case "scalar":
      if (expect(wireTypeOf(field.scalar))) readScalar(field.scalar, reader, at, v);
      return;
    case "enum":
      if (expect(WireType.Varint)) readEnum(field.enum, reader, at, v);
      return;
    case "message":
      if (expect(WireType.LengthDelimited)) walkMessage(field.message, reader.bytes(), at, v, depth + 1);
      return;
    case "list": {
      const el = `${at}[${index}]`;
      if (field.listKind === "message") {
        if (expect(WireType.LengthDelimited)) walkMessage(field.message, reader.bytes(), el, v, depth + 1);
        return;
      }
      const type = field.listKind === "enum" ? ScalarType.INT32 : field.scalar;
      const one = wireTypeOf(type);
      if (wireType === WireType.LengthDelimited && one !== WireType.LengthDelimited) {
        // Packed: many values in one length-delimited run.
        const packed = new BinaryReader(reader.bytes());
        while (packed.pos < packed.len) {
          if (field.listKind === "enum") readEnum(field.enum, packed, el, v);
          else readScalar(type, packed, el, v);
        }
        return;
      }
      if (!expect(one)) return;
      if (field.listKind === "enum") readEnum(field.enum, reader, el, v);
      else readScalar(type, reader, el, v);
      return;
    }
    case "map": {
      if (!expect(WireType.LengthDelimited)) return;
      const entry = new BinaryReader(reader.bytes());
      while (entry.pos < entry.len) {
        const [number, type] = entry.tag();
        if (number === 1 && type === wireTypeOf(field.mapKey)) readScalar(field.mapKey, entry, at, v);
        else if (number === 2 && field.mapKind === "message" && type === WireType.LengthDelimited)
          walkMessage(field.message, entry.bytes(), `${at}[${index}]`, v, depth + 1);
        else if (number === 2 && field.mapKind === "enum" && type === WireType.Varint)
          readEnum(field.enum, entry, at, v);
        else if (number === 2 && field.mapKind === "scalar" && type === wireTypeOf(field.scalar))
          readScalar(field.scalar, entry, at, v);
        else {
          v.add(
            at,
            "INVALID_VALUE",
            `map entry field ${number} with wire type ${WireType[type]} is not valid here`,
          );
          entry.skip(type, number);
        }
      }
      return;
    }
  }
}

function readEnum(desc: DescEnum, reader: BinaryReader, at: string, v: Violations): void {
  const value = reader.int32();
  if (!isEnumValue(desc, value))
    v.add(at, "INVALID_VALUE", `unknown value ${value}; accepted: ${acceptedEnumValues(desc)}`);
}

function readScalar(type: ScalarType, reader: BinaryReader, at: string, v: Violations): void {
  if (type !== ScalarType.STRING) {
    reader.skip(wireTypeOf(type));
    return;
  }
  const bytes = reader.bytes();
  try {
    utf8.decode(bytes);
  } catch {
    v.add(at, "INVALID_VALUE", "not valid UTF-8");
  }
}
