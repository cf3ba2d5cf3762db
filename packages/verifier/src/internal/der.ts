/** Minimal DER reader for X.509 certificates and CRLs (no dependency, browser-safe). */

import { bytesToHex } from "@noble/hashes/utils.js";

export interface DerNode {
  tag: number;
  /** Offset of the tag byte in the source. */
  start: number;
  /** Offset of the content. */
  contentStart: number;
  end: number;
  /** Full TLV bytes. */
  raw: Uint8Array;
  content: Uint8Array;
}

export class DerError extends Error {
  override name = "DerError";
}

export function readNode(buf: Uint8Array, offset = 0): DerNode {
  if (offset + 2 > buf.length) throw new DerError("truncated DER");
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags unsupported");
  let len = buf[offset + 1] as number;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new DerError("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) {
      if (p >= buf.length) throw new DerError("truncated DER length");
      len = len * 256 + (buf[p++] as number);
    }
  }
  const end = p + len;
  if (end > buf.length) throw new DerError("DER length exceeds input");
  return {
    tag,
    start: offset,
    contentStart: p,
    end,
    raw: buf.subarray(offset, end),
    content: buf.subarray(p, end),
  };
}

export function children(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let off = 0;
  while (off < node.content.length) {
    const c = readNode(node.content, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}`);
  return node;
}

export function decodeOid(content: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i] as number;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

/** UTCTime / GeneralizedTime → unix seconds. */
export function decodeTime(node: DerNode): number {
  const s = new TextDecoder().decode(node.content);
  let m: RegExpMatchArray | null;
  if (node.tag === 0x17) {
    m = s.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!m) throw new DerError(`bad UTCTime ${s}`);
    const yy = Number(m[1]);
    const year = yy >= 50 ? 1900 + yy : 2000 + yy;
    return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
  }
  if (node.tag === 0x18) {
    m = s.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/);
    if (!m) throw new DerError(`bad GeneralizedTime ${s}`);
    return (
      Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000
    );
  }
  throw new DerError("expected a time");
}

/** INTEGER content → lowercase hex without leading zeros ("0" for zero). */
export function integerHex(content: Uint8Array): string {
  return bytesToHex(content).replace(/^0+(?=.)/, "");
}
