/**
 * Minimal DER encoder: just enough ASN.1 to build X.509 certificates and CRLs for the test PKI.
 * @module
 */

import { concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  let n = length;
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Tag-length-value with an explicit tag byte. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(tag), encodeLength(content.length), content);
}

export function seq(...items: Uint8Array[]): Uint8Array {
  return tlv(0x30, concatBytes(...items));
}

export function set(...items: Uint8Array[]): Uint8Array {
  return tlv(0x31, concatBytes(...items));
}

/** INTEGER from a non-negative bigint or an unsigned big-endian magnitude. */
export function int(value: bigint | number | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0) i++;
    bytes = value.slice(i);
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new RangeError("der.int: negative integers are not supported");
    const out: number[] = [];
    do {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    bytes = Uint8Array.from(out);
  }
  if (bytes.length === 0) bytes = Uint8Array.of(0);
  if ((bytes[0] as number) & 0x80) bytes = concatBytes(Uint8Array.of(0), bytes);
  return tlv(0x02, bytes);
}

export function enumerated(value: number): Uint8Array {
  const i = int(value);
  i[0] = 0x0a;
  return i;
}

export function bool(value: boolean): Uint8Array {
  return tlv(0x01, Uint8Array.of(value ? 0xff : 0x00));
}

export function nullValue(): Uint8Array {
  return Uint8Array.of(0x05, 0x00);
}

export function oid(dotted: string): Uint8Array {
  const parts = dotted.split(".").map((p) => BigInt(p));
  const [a, b, ...rest] = parts as [bigint, bigint, ...bigint[]];
  const out: number[] = [];
  const push = (v: bigint) => {
    const chunk: number[] = [Number(v & 0x7fn)];
    let n = v >> 7n;
    while (n > 0n) {
      chunk.unshift(Number((n & 0x7fn) | 0x80n));
      n >>= 7n;
    }
    out.push(...chunk);
  };
  push(a * 40n + b);
  for (const r of rest) push(r);
  return tlv(0x06, Uint8Array.from(out));
}

export function octets(bytes: Uint8Array): Uint8Array {
  return tlv(0x04, bytes);
}

/** BIT STRING; `unusedBits` are the padding bits of the last byte. */
export function bits(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  return tlv(0x03, concatBytes(Uint8Array.of(unusedBits), bytes));
}

export function utf8(text: string): Uint8Array {
  return tlv(0x0c, utf8ToBytes(text));
}

export function printable(text: string): Uint8Array {
  return tlv(0x13, utf8ToBytes(text));
}

/** UTCTime before 2050, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
export function time(unixSeconds: number): Uint8Array {
  const d = new Date(unixSeconds * 1000);
  const p2 = (n: number) => String(n).padStart(2, "0");
  const body = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, utf8ToBytes(`${p2(year % 100)}${body}`));
  return tlv(0x18, utf8ToBytes(`${String(year).padStart(4, "0")}${body}`));
}

/** Context-specific constructed tag [n] (EXPLICIT). */
export function explicit(n: number, content: Uint8Array): Uint8Array {
  return tlv(0xa0 | n, content);
}

/** Context-specific primitive tag [n] (IMPLICIT, primitive content). */
export function implicitPrimitive(n: number, content: Uint8Array): Uint8Array {
  return tlv(0x80 | n, content);
}
