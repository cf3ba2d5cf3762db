import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";

export { bytesToHex, concatBytes, hexToBytes, utf8ToBytes };

/** Deterministic byte stream from a seed and a label (SHA-256 in counter mode). */
export function deriveBytes(seed: string, label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (let counter = 0; offset < length; counter++) {
    const block = sha256(utf8ToBytes(`zerog-tee-sim|${seed}|${label}|${counter}`));
    out.set(block.subarray(0, Math.min(block.length, length - offset)), offset);
    offset += block.length;
  }
  return out;
}

export function toPem(der: Uint8Array, label: string): string {
  let b64 = "";
  for (let i = 0; i < der.length; i += 3 * 1024) {
    b64 += btoa(String.fromCharCode(...der.subarray(i, i + 3 * 1024)));
  }
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 3 * 1024)
    s += String.fromCharCode(...bytes.subarray(i, i + 3 * 1024));
  return btoa(s);
}

export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function u16le(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >> 8) & 0xff);
}

export function u32le(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}

export function fixed(bytes: Uint8Array | undefined, length: number, field: string): Uint8Array {
  if (bytes === undefined) return new Uint8Array(length);
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new RangeError(
      `${field}: expected ${length} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
    );
  }
  return bytes;
}

/** Accepts bytes or hex (0x optional). */
export function bytesOrHex(
  value: Uint8Array | string | undefined,
  length: number,
  field: string,
): Uint8Array {
  if (typeof value === "string") return fixed(hexToBytes(value.replace(/^0x/i, "")), length, field);
  return fixed(value, length, field);
}

export function randomSeed(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return bytesToHex(b);
}
