/**
 * Strict PEM certificate chains: exactly the inputs that @phala/dcap-qvl (its regex, then base64) and this
 * verifier read as the same list of certificates, nothing else. A chain is one or more blocks
 *
 *   -----BEGIN CERTIFICATE-----EOL (base64 EOL)+ -----END CERTIFICATE----- EOL*
 *
 * with EOL = LF or CRLF and canonical base64 (padding only at the end, zero pad bits), optionally followed by
 * one NUL byte (Intel's quotes end their chain with one). Anything else (another character between or inside
 * blocks, a TAB after BEGIN, trailing data) is refused: dcap-qvl would skip such a block where a laxer parser
 * would not, and the two would check different chains.
 */

const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";

const latin1 = new TextDecoder("latin1");

export class PemError extends Error {
  override name = "PemError";
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const LOOKUP = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) LOOKUP[B64.charCodeAt(i)] = i;

/** Canonical base64 (RFC 4648 §4, padded, zero pad bits) → bytes. */
function decodeCanonical(s: string): Uint8Array {
  if (s.length === 0 || s.length % 4 !== 0) throw new PemError("base64 length is not a multiple of 4");
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      const last = i + 4 === s.length;
      const v = c === 61 && last && j >= 4 - pad ? 0 : c < 128 ? (LOOKUP[c] as number) : -1;
      if (v < 0) throw new PemError(`invalid base64 character at ${i + j}`);
      n = (n << 6) | v;
    }
    const keep = i + 4 === s.length ? 3 - pad : 3;
    // The bytes a padded quantum drops must be zero.
    if ((n & ((1 << (8 * (3 - keep))) - 1)) !== 0) throw new PemError("non-canonical base64 padding");
    out[o++] = (n >> 16) & 0xff;
    if (keep > 1) out[o++] = (n >> 8) & 0xff;
    if (keep > 2) out[o++] = n & 0xff;
  }
  return out;
}

/** Reads one EOL (LF or CRLF) at `i`; returns the index after it, or -1. */
function eol(text: string, i: number): number {
  if (text[i] === "\n") return i + 1;
  if (text[i] === "\r" && text[i + 1] === "\n") return i + 2;
  return -1;
}

/**
 * The DER certificates of a strict PEM chain (see the module comment). Throws {@link PemError} for anything
 * outside that grammar. Linear in the input length.
 */
export function parsePemChain(input: Uint8Array | string): Uint8Array[] {
  let text = typeof input === "string" ? input : latin1.decode(input);
  const nonAscii = text.search(/[\u0080-\uffff]/);
  if (nonAscii >= 0) throw new PemError(`non-ASCII character at ${nonAscii}`);
  if (text.endsWith("\0")) text = text.slice(0, -1);
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < text.length) {
    if (!text.startsWith(BEGIN, i)) throw new PemError(`expected ${BEGIN} at ${i}`);
    i = eol(text, i + BEGIN.length);
    if (i < 0) throw new PemError(`${BEGIN} must be followed by a line end`);
    let b64 = "";
    while (!text.startsWith(END, i)) {
      const start = i;
      while (
        i < text.length &&
        (text.charCodeAt(i) < 128 ? LOOKUP[text.charCodeAt(i)] !== -1 || text[i] === "=" : false)
      )
        i++;
      if (i === start) throw new PemError(`unexpected character at ${i} inside a certificate block`);
      b64 += text.slice(start, i);
      i = eol(text, i);
      if (i < 0) throw new PemError(`unexpected character at ${start} inside a certificate block`);
    }
    i += END.length;
    out.push(decodeCanonical(b64));
    for (let next = eol(text, i); next >= 0; next = eol(text, i)) i = next;
  }
  if (out.length === 0) throw new PemError("no certificate");
  return out;
}
