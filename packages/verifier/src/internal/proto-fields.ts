import { InputTooLargeError, InvalidInputError } from "../errors/input.js";
import { LIMITS } from "../limits.js";
import { base64ToBytes, isBytes } from "./bytes.js";

// Readers of proto fields given as protobuf-es values or proto3 JSON (camelCase or snake_case names).

/**
 * The field under its camelCase or its snake_case name. Both present is refused (as protobuf's own JSON parsers
 * do), even when they agree: a reader taking the other one would see other bytes than the verifier checked.
 */
export function pick(o: Record<string, unknown>, camel: string, snake: string, field: string): unknown {
  if (camel !== snake && o[camel] !== undefined && o[snake] !== undefined)
    throw new InvalidInputError(field, `given twice, as ${camel} and as ${snake}: give one`);
  return o[camel] !== undefined ? o[camel] : o[snake];
}

export function str(
  o: Record<string, unknown>,
  camel: string,
  snake: string,
  field: string,
  limit: number = LIMITS.fieldBytes,
): string {
  const v = pick(o, camel, snake, field);
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new InvalidInputError(field, `expected a string, got ${typeof v}`);
  if (v.length > limit) throw new InputTooLargeError(field, v.length, limit);
  return v;
}

export function bytes(
  o: Record<string, unknown>,
  camel: string,
  snake: string,
  field: string,
  limit: number = LIMITS.fieldBytes,
): Uint8Array {
  const v = pick(o, camel, snake, field);
  if (v === undefined || v === null) return new Uint8Array(0);
  const size = isBytes(v) ? v.length : typeof v === "string" ? Math.floor((v.length * 3) / 4) : 0;
  if (size > limit) throw new InputTooLargeError(field, size, limit);
  if (isBytes(v)) return v;
  if (typeof v === "string") return base64ToBytes(v, field);
  throw new InvalidInputError(field, "expected bytes or base64");
}

export function object(v: unknown, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "object" || Array.isArray(v) || isBytes(v))
    throw new InvalidInputError(field, "expected an object");
  return v as Record<string, unknown>;
}

export function int64(o: Record<string, unknown>, camel: string, snake: string, field: string): bigint {
  const v = pick(o, camel, snake, field);
  if (v === undefined || v === null || v === "") return 0n;
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v.trim())) return BigInt(v.trim());
  throw new InvalidInputError(field, "expected an integer (bigint, number or decimal string)");
}
