import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  ScalarType,
} from "@bufbuild/protobuf";
import { type FieldViolation, invalidArgument, ZeroGError } from "@chaoschain/zerog-core";
import { acceptedEnumValues, enumValueFromName, isEnumValue } from "./enums.js";
import { fieldPath, maxDepth, quoteBounded, Violations } from "./violations.js";

export type StrictJsonResult = { ok: true; value: JsonValue } | { ok: false; violations: FieldViolation[] };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a string is valid Unicode (no unpaired surrogate: it has a UTF-8 encoding). */
function isWellFormed(text: string): boolean {
  return !loneSurrogate.test(text);
}

/**
 * Decodes a JSON request body strictly: valid UTF-8 (never rewritten to U+FFFD), valid JSON, then
 * {@link checkJson}. Returns the JSON to hand to the protobuf decoder, or the error to answer.
 */
export function decodeJsonRequest(
  desc: DescMessage,
  body: Uint8Array,
): { value: JsonValue } | { error: ZeroGError } {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { error: new ZeroGError("invalid_argument", "the request body is not valid UTF-8") };
  }
  let value: unknown;
  try {
    // An empty body is the empty message, as in the binary encoding.
    value = text.trim() === "" ? {} : JSON.parse(text);
  } catch (err) {
    const reason = (err as Error).message.slice(0, 120);
    return { error: new ZeroGError("invalid_argument", `the request body is not JSON: ${reason}`) };
  }
  const checked = checkJson(desc, value);
  return checked.ok ? { value: checked.value } : { error: invalidArgument(checked.violations) };
}

/**
 * Checks a request in proto3 JSON against its message type, more strictly than the JSON mapping asks:
 * an unknown field, an unknown enum value, a value of the wrong type or a string that is not valid
 * Unicode is a violation naming the field and what it accepts. Enum values may also be given by the
 * short names the contract documents (`"zk-ml"`, `"inference"`), returned replaced by their proto names.
 */
export function checkJson(desc: DescMessage, value: unknown): StrictJsonResult {
  const violations = new Violations();
  const out = message(desc, value, "", violations, 0);
  return violations.empty ? { ok: true, value: out } : { ok: false, violations: violations.result() };
}

const fieldsByKey = new WeakMap<DescMessage, Map<string, DescField>>();

function fieldsOf(desc: DescMessage): Map<string, DescField> {
  let map = fieldsByKey.get(desc);
  if (!map) {
    map = new Map(desc.fields.flatMap((f) => [[f.name, f] as const, [f.jsonName, f] as const]));
    fieldsByKey.set(desc, map);
  }
  return map;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return typeof v === "string" ? `the string ${quoteBounded(v)}` : `${typeof v} ${String(v)}`;
}

function message(desc: DescMessage, value: unknown, path: string, v: Violations, depth: number): JsonValue {
  const at = path || "request";
  if (depth > maxDepth) {
    v.add(at, "OUT_OF_RANGE", `nested more than ${maxDepth} levels deep`);
    return null;
  }
  if (!isObject(value)) {
    v.add(at, "INVALID_TYPE", `must be a JSON object, got ${describe(value)}`);
    return null;
  }
  const fields = fieldsOf(desc);
  const out: JsonObject = {};
  const given = new Map<DescField, string>();
  for (const [key, item] of Object.entries(value)) {
    const field = fields.get(key);
    if (!field) {
      const accepted = desc.fields.map((f) => f.name).join(", ");
      v.add(fieldPath(path, key), "UNKNOWN_FIELD", `unknown field; ${desc.name} has: ${accepted}`);
      continue;
    }
    const name = fieldPath(path, field.name);
    const twice = given.get(field);
    if (twice !== undefined) {
      v.add(name, "CONFLICT", `given twice, as "${twice}" and "${key}"`);
      continue;
    }
    given.set(field, key);
    const isValue = field.fieldKind === "message" && field.message.typeName === "google.protobuf.Value";
    // proto3 JSON: null is the field's default, except for google.protobuf.Value.
    if (item === null && !isValue) continue;
    if (field.oneof) {
      const other = [...given.keys()].find(
        (f) => f !== field && f.oneof === field.oneof && value[given.get(f)!] !== null,
      );
      if (other) v.add(name, "CONFLICT", `give either ${other.name} or ${field.name}, not both`);
    }
    out[field.jsonName] = fieldValue(field, item, name, v, depth);
  }
  return out;
}

function fieldValue(field: DescField, item: unknown, at: string, v: Violations, depth: number): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return scalar(field.scalar, item, at, v);
    case "enum":
      return enumValue(field.enum, item, at, v);
    case "message":
      return messageField(field.message, item, at, v, depth + 1);
    case "list": {
      if (!Array.isArray(item)) {
        v.add(at, "INVALID_TYPE", `must be an array, got ${describe(item)}`);
        return null;
      }
      return item.map((x, i) => {
        const el = `${at}[${i}]`;
        if (field.listKind === "scalar") return scalar(field.scalar, x, el, v);
        if (field.listKind === "enum") return enumValue(field.enum, x, el, v);
        return messageField(field.message, x, el, v, depth + 1);
      });
    }
    case "map": {
      if (!isObject(item)) {
        v.add(at, "INVALID_TYPE", `must be an object, got ${describe(item)}`);
        return null;
      }
      const out: JsonObject = {};
      for (const [key, x] of Object.entries(item)) {
        const el = `${at}[${quoteBounded(key)}]`;
        if (field.mapKey !== ScalarType.STRING && field.mapKey !== ScalarType.BOOL && !/^-?\d+$/.test(key)) {
          v.add(el, "INVALID_TYPE", "map keys of this field are integers");
        }
        if (field.mapKind === "scalar") out[key] = scalar(field.scalar, x, el, v);
        else if (field.mapKind === "enum") out[key] = enumValue(field.enum, x, el, v);
        else out[key] = messageField(field.message, x, el, v, depth + 1);
      }
      return out;
    }
  }
}

/** Messages of ours are checked field by field; well-known types by the protobuf runtime. */
function messageField(desc: DescMessage, item: unknown, at: string, v: Violations, depth: number): JsonValue {
  if (!desc.typeName.startsWith("google.protobuf.")) return message(desc, item, at, v, depth);
  const problem = jsonDepthOrText(item, maxDepth - depth);
  if (problem) {
    v.add(at, problem.startsWith("nested") ? "OUT_OF_RANGE" : "INVALID_VALUE", problem);
    return null;
  }
  try {
    fromJson(desc, item as JsonValue);
  } catch (err) {
    v.add(at, "INVALID_VALUE", `not a valid ${desc.name}: ${(err as Error).message.slice(0, 160)}`);
  }
  return item as JsonValue;
}

/** Why a JSON value cannot be accepted (too deep, or a string that is not valid Unicode); "" if none. */
function jsonDepthOrText(value: unknown, levels: number): string {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node === "string" && !isWellFormed(node)) return "contains a string that is not valid Unicode";
    if (typeof node !== "object" || node === null) continue;
    if (depth >= levels) return `nested more than ${maxDepth} levels deep`;
    for (const [key, child] of Object.entries(node)) {
      if (!isWellFormed(key)) return "contains a key that is not valid Unicode";
      stack.push([child, depth + 1]);
    }
  }
  return "";
}

function enumValue(desc: DescEnum, item: unknown, at: string, v: Violations): JsonValue {
  if (typeof item === "string") {
    const value = enumValueFromName(desc, item);
    if (value !== undefined) return desc.values.find((x) => x.number === value)!.name;
    v.add(at, "INVALID_VALUE", `unknown value ${quoteBounded(item)}; accepted: ${acceptedEnumValues(desc)}`);
    return null;
  }
  if (typeof item === "number" && Number.isInteger(item) && isEnumValue(desc, item)) return item;
  v.add(at, "INVALID_VALUE", `unknown value ${describe(item)}; accepted: ${acceptedEnumValues(desc)}`);
  return null;
}

const int32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const uint32 = { min: 0, max: 2 ** 32 - 1 };
const int64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const uint64 = { min: 0n, max: 2n ** 64n - 1n };

function scalar(type: ScalarType, item: unknown, at: string, v: Violations): JsonValue {
  const bad = (reason: FieldViolation["reason"], description: string) => {
    v.add(at, reason, description);
    return null;
  };
  switch (type) {
    case ScalarType.STRING:
      if (typeof item !== "string") return bad("INVALID_TYPE", `must be a string, got ${describe(item)}`);
      if (!isWellFormed(item)) return bad("INVALID_VALUE", "not valid Unicode (an unpaired surrogate)");
      return item;
    case ScalarType.BOOL:
      if (typeof item !== "boolean")
        return bad("INVALID_TYPE", `must be true or false, got ${describe(item)}`);
      return item;
    case ScalarType.BYTES:
      if (typeof item !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(item))
        return bad("INVALID_TYPE", `must be base64 text, got ${describe(item)}`);
      return item;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (typeof item === "number" && Number.isFinite(item)) return item;
      if (
        typeof item === "string" &&
        (/^(NaN|-?Infinity)$/.test(item) || Number.isFinite(Number(item))) &&
        item.trim() !== ""
      )
        return item;
      return bad("INVALID_TYPE", `must be a number, got ${describe(item)}`);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
    case ScalarType.UINT32:
    case ScalarType.FIXED32: {
      const range = type === ScalarType.UINT32 || type === ScalarType.FIXED32 ? uint32 : int32;
      const n = typeof item === "string" && /^-?\d+$/.test(item) ? Number(item) : item;
      if (typeof n !== "number" || !Number.isInteger(n))
        return bad("INVALID_TYPE", `must be an integer, got ${describe(item)}`);
      if (n < range.min || n > range.max)
        return bad("OUT_OF_RANGE", `must be from ${range.min} to ${range.max}`);
      return item as JsonValue;
    }
    default: {
      // 64-bit integers: a JSON number (exact) or a decimal string.
      const range = type === ScalarType.UINT64 || type === ScalarType.FIXED64 ? uint64 : int64;
      let n: bigint | undefined;
      if (typeof item === "number" && Number.isSafeInteger(item)) n = BigInt(item);
      else if (typeof item === "string" && /^-?\d{1,20}$/.test(item)) n = BigInt(item);
      if (n === undefined) return bad("INVALID_TYPE", `must be an integer, got ${describe(item)}`);
      if (n < range.min || n > range.max)
        return bad("OUT_OF_RANGE", `must be from ${range.min} to ${range.max}`);
      return item as JsonValue;
    }
  }
}
