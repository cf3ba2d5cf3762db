import { concatBytes, u32le } from "./util.js";

const u16 = (b: Uint8Array, o: number) => (b[o] as number) | ((b[o + 1] as number) << 8);
const u32 = (b: Uint8Array, o: number) =>
  ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16)) +
  (b[o + 3] as number) * 0x1000000;

/** Byte offsets of a DCAP quote's variable parts (v3 SGX, v4 and v5 TDX/SGX). */
export interface QuoteLayout {
  /** End of the signed region; the u32 auth data size follows. */
  signedEnd: number;
  /** Offset of the innermost certification data type (u16), then its u32 size, then its bytes. */
  certificationData: number;
  /** End of the auth data (trailing bytes may follow). */
  authEnd: number;
}

/** The layout of `quote` (no validation beyond what is needed to find the offsets). */
export function quoteLayout(quote: Uint8Array): QuoteLayout {
  const version = u16(quote, 0);
  const tdx = u32(quote, 4) === 0x81;
  let signedEnd: number;
  if (version === 5) {
    const type = u16(quote, 48);
    signedEnd = 48 + 6 + (type === 1 ? 384 : type === 2 ? 584 : 648);
  } else signedEnd = 48 + (tdx ? 584 : 384);
  const authStart = signedEnd + 4;
  const authEnd = authStart + u32(quote, signedEnd);
  let o = authStart + 128;
  if (version !== 3) o += 6; // outer certification data header (type 6)
  o += 384 + 64;
  o += 2 + u16(quote, o);
  return { signedEnd, certificationData: o, authEnd };
}

/**
 * Replaces the innermost certification data (the PCK chain, type 5) of a quote and fixes every length
 * around it. The signed region is untouched, so the quote signature still verifies: what the result proves
 * depends only on how a verifier reads the new certification data. `trailing` bytes go after the auth data.
 *
 * @example
 * const q = replaceCertificationData(quote, new TextEncoder().encode(forgedCa.pem + pki.pckChainPem));
 */
export function replaceCertificationData(
  quote: Uint8Array,
  certificationData: Uint8Array,
  trailing: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const { signedEnd, certificationData: at } = quoteLayout(quote);
  const version = u16(quote, 0);
  const type = quote.slice(at, at + 2);
  const before = quote.slice(signedEnd + 4, at);
  if (version !== 3) {
    // outer type-6 size covers everything from the QE report to the end of the inner data
    const outerSize = at + 6 + certificationData.length - (signedEnd + 4 + 128 + 6);
    before.set(u32le(outerSize), 128 + 2);
  }
  const auth = concatBytes(before, type, u32le(certificationData.length), certificationData);
  return concatBytes(quote.slice(0, signedEnd), u32le(auth.length), auth, trailing);
}
