import { concatBytes, hexToBytes, bytesToHex as nobleBytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { InvalidInputError } from "../errors/input.js";
import { nodeBuiltin } from "./node-builtin.js";

export { concatBytes, utf8ToBytes };

// Node's own hex encoder where there is one: the collateral's CRLs and signatures become hex on every call.
const NodeBuffer = nodeBuiltin<typeof import("node:buffer")>("node:buffer")?.Buffer;

/** Lowercase hex of `bytes` (the same text either way). */
export function bytesToHex(bytes: Uint8Array): string {
  return NodeBuffer && bytes.length > 32 && isBytes(bytes)
    ? NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex")
    : nobleBytesToHex(bytes);
}

export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array || (ArrayBuffer.isView(v) && v.constructor.name === "Uint8Array");
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Hex (0x optional, whitespace ignored) → bytes; throws InvalidInputError naming `field`. */
export function hexToBytesStrict(hex: string, field: string): Uint8Array {
  const clean = hex.trim().replace(/^0x/i, "").replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) throw new InvalidInputError(field, "not hex");
  return hexToBytes(clean);
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_LOOKUP[B64.charCodeAt(i)] = i;
B64_LOOKUP["-".charCodeAt(0)] = 62;
B64_LOOKUP["_".charCodeAt(0)] = 63;

/** Standard or URL-safe base64, padding optional (proto3 JSON accepts both). */
export function base64ToBytes(text: string, field: string): Uint8Array {
  const s = text.replace(/[\s=]+/g, "");
  if (s.length % 4 === 1) throw new InvalidInputError(field, "not base64");
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? (B64_LOOKUP[c] as number) : -1;
    if (v < 0) throw new InvalidInputError(field, "not base64");
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

const decoder = new TextDecoder("utf-8", { fatal: false });
export function bytesToUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function readU16le(b: Uint8Array, off: number): number {
  return (b[off] as number) | ((b[off + 1] as number) << 8);
}

export function readU32le(b: Uint8Array, off: number): number {
  return (
    ((b[off] as number) | ((b[off + 1] as number) << 8) | ((b[off + 2] as number) << 16)) +
    (b[off + 3] as number) * 0x1000000
  );
}
