import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import type { Reason } from "./check.js";
import { InvalidInputError } from "./errors/input.js";
import { bytesToHex, concatBytes, hexToBytesStrict, isBytes, utf8ToBytes } from "./internal/bytes.js";
import { secp256k1Recovery } from "./internal/secp256k1.js";
import { sha256Hex } from "./internal/sha256.js";
import { toChecksumAddress } from "./report-data.js";
import type { VerificationCache } from "./verification-cache.js";

export interface VerifyResponseSignatureParameters {
  /** Exact bytes of the HTTP request body sent to the provider. */
  requestBody: Uint8Array;
  /** Exact bytes of the HTTP response body (the whole SSE stream when streamed). */
  responseBody: Uint8Array;
  /** The text the enclave signed, "<hex sha256 request>:<hex sha256 response>". */
  signedText: string;
  /** 0x-hex r ‖ s ‖ v (65 bytes), v = 27/28 (0/1 accepted). */
  signature: string;
  /** Expected enclave signing address (any case). */
  expectedAddress: string;
  /** Reuses the signer recovery when the same signature is checked again (e.g. by `verifyProof`). */
  cache?: VerificationCache | undefined;
}

export type VerifyResponseSignatureReturnType =
  | {
      ok: true;
      /** EIP-55 address recovered from the signature. */
      signer: string;
      /** 0x04-prefixed uncompressed secp256k1 public key (65 bytes, hex). */
      pubkey: string;
      requestHash: string;
      responseHash: string;
    }
  | {
      ok: false;
      reason: Extract<
        Reason,
        | "request_hash_mismatch"
        | "response_hash_mismatch"
        | "signed_text_mismatch"
        | "signature_invalid"
        | "signature_mismatch"
      >;
      message: string;
      requestHash: string;
      responseHash: string;
      signer?: string;
      pubkey?: string;
    };

export type VerifyResponseSignatureErrorType = InvalidInputError;

const N = secp256k1.Point.CURVE().n;
const HALF_N = N >> 1n;

/** EIP-191 personal_sign digest of UTF-8 `text`. */
export function personalMessageDigest(text: string): Uint8Array {
  const msg = utf8ToBytes(text);
  return keccak_256(concatBytes(utf8ToBytes(`\x19Ethereum Signed Message:\n${msg.length}`), msg));
}

/** Address (EIP-55) of an uncompressed or compressed secp256k1 public key. */
export function addressOfPublicKey(pub: Uint8Array): string {
  const uncompressed = pub.length === 65 ? pub : secp256k1.Point.fromBytes(pub).toBytes(false);
  return toChecksumAddress(bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12)));
}

/** r, s and the recovery id of a 65-byte r‖s‖v signature; undefined when they cannot be valid (low-S only). */
function parseSignatureBytes(bytes: Uint8Array): { r: bigint; s: bigint; recid: 0 | 1 } | undefined {
  if (bytes.length !== 65) return undefined;
  const v = bytes[64] as number;
  const recid = v >= 27 ? v - 27 : v;
  if (recid !== 0 && recid !== 1) return undefined;
  const r = BigInt(`0x${bytesToHex(bytes.subarray(0, 32))}`);
  const s = BigInt(`0x${bytesToHex(bytes.subarray(32, 64))}`);
  if (r === 0n || r >= N || s === 0n || s > HALF_N) return undefined;
  return { r, s, recid };
}

function parseSignature(
  signature: string,
  field: string,
): { bytes: Uint8Array; r: bigint; s: bigint; recid: 0 | 1 } | undefined {
  if (typeof signature !== "string") throw new InvalidInputError(field, "expected 0x-hex");
  const bytes = hexToBytesStrict(signature, field);
  if (bytes.length !== 65) throw new InvalidInputError(field, `expected 65 bytes r‖s‖v, got ${bytes.length}`);
  const parsed = parseSignatureBytes(bytes);
  return parsed && { bytes, ...parsed };
}

/**
 * Recovers the signer of a 32-byte digest from a 65-byte r‖s‖v signature (v = 0/1 or 27/28, low-S only):
 * its EIP-55 address and 0x04-prefixed public key, or undefined when it does not recover. No EIP-191
 * prefix is added: pass the digest that was signed (e.g. an EIP-712 digest, or keccak256 of data).
 */
export function recoverDigestSigner(
  digest: Uint8Array,
  signature: Uint8Array,
): { address: string; pubkey: string } | undefined {
  const sig = parseSignatureBytes(signature);
  if (!sig || digest.length !== 32) return undefined;
  const uncompressed = secp256k1Recovery().recover(digest, signature.subarray(0, 64), sig.recid);
  return (
    uncompressed && { address: addressOfPublicKey(uncompressed), pubkey: `0x${bytesToHex(uncompressed)}` }
  );
}

/**
 * Recovers the EIP-191 signer of `text`. Returns undefined when the signature does not recover (bad r/s,
 * high-S, point not on curve). Throws InvalidInputError when it is not 65 bytes of hex.
 */
export function recoverPersonalSigner(
  text: string,
  signature: string,
  field = "signature",
): { address: string; pubkey: string } | undefined {
  const sig = parseSignature(signature, field);
  return sig && recoverDigestSigner(personalMessageDigest(text), sig.bytes);
}

/**
 * Whether `signature` over `text` recovers to the key `signer.point`, without recovering: the point
 * R = (z·G + r·P) / s must be the one recovery would start from (x = r, y parity = v). Same answer as
 * recovering and comparing, at about a third of the cost, because P's multiples are precomputed.
 */
export function recoversTo(text: string, signature: string, signer: KnownSigner): boolean {
  const sig = parseSignature(signature, "signature");
  if (!sig) return false;
  const Fn = secp256k1.Point.Fn;
  const z = BigInt(`0x${bytesToHex(personalMessageDigest(text))}`) % N;
  const sInv = Fn.inv(sig.s);
  const R = secp256k1.Point.BASE.multiplyUnsafe(Fn.mul(z, sInv)).add(
    signer.point.multiplyUnsafe(Fn.mul(sig.r, sInv)),
  );
  if (R.is0()) return false;
  const { x, y } = R.toAffine();
  return x === sig.r && Number(y & 1n) === sig.recid;
}

/** A signer already recovered once, with its public key's multiples precomputed for `recoversTo`. */
export interface KnownSigner {
  address: string;
  pubkey: string;
  point: InstanceType<typeof secp256k1.Point>;
}

function recoverCached(
  text: string,
  signature: string,
  expected: string,
  cache: VerificationCache | undefined,
): { address: string; pubkey: string } | undefined {
  if (!cache) return recoverPersonalSigner(text, signature);
  const key = `${signature}\n${text}`;
  const hit = cache.get("signer", key);
  if (hit) return hit;
  let rec: { address: string; pubkey: string } | undefined;
  if (secp256k1Recovery().name !== "@noble/curves") {
    // Recovery with libsecp256k1 is faster than the known-key check with @noble/curves: nothing to precompute.
    rec = recoverPersonalSigner(text, signature);
    if (rec) cache.set("signer", key, rec);
    return rec;
  }
  const known = cache.get("knownSigner", expected);
  if (known && recoversTo(text, signature, known)) {
    rec = { address: known.address, pubkey: known.pubkey };
  } else {
    rec = recoverPersonalSigner(text, signature);
    if (rec && rec.address === expected && !known) {
      const point = secp256k1.Point.fromBytes(hexToBytesStrict(rec.pubkey, "pubkey")).precompute(6, false);
      cache.set("knownSigner", expected, { ...rec, point });
    }
  }
  if (rec) cache.set("signer", key, rec);
  return rec;
}

/**
 * Checks a 0G chat response signature end to end: recomputes sha256 of the exact request and response bytes,
 * requires `signedText` to be exactly "<request hash>:<response hash>", recovers the EIP-191 signer and
 * compares it with `expectedAddress`. A mismatch is a value (`ok: false` + `reason`), never a throw.
 *
 * @throws {InvalidInputError} when a body is not bytes or the signature is not 65 bytes of hex.
 * @example
 * const r = verifyResponseSignature({ requestBody, responseBody, signedText, signature, expectedAddress });
 * if (!r.ok) throw new Error(r.reason);
 */
export function verifyResponseSignature(
  p: VerifyResponseSignatureParameters,
): VerifyResponseSignatureReturnType {
  if (!isBytes(p.requestBody)) throw new InvalidInputError("requestBody", "expected bytes");
  if (!isBytes(p.responseBody)) throw new InvalidInputError("responseBody", "expected bytes");
  return verifyHashedResponseSignature(p, {
    requestHash: sha256Hex(p.requestBody),
    responseHash: sha256Hex(p.responseBody),
  });
}

/** `verifyResponseSignature` given the hex sha256 of the bodies (`proofContext` has them already). */
export function verifyHashedResponseSignature(
  p: Omit<VerifyResponseSignatureParameters, "requestBody" | "responseBody">,
  hashes: { requestHash: string; responseHash: string },
): VerifyResponseSignatureReturnType {
  if (typeof p.signedText !== "string") throw new InvalidInputError("signedText", "expected a string");
  const expected = toChecksumAddress(p.expectedAddress, "expectedAddress");
  const { requestHash, responseHash } = hashes;
  const base = { requestHash, responseHash };
  const parts = p.signedText.split(":");
  if (parts.length !== 2) {
    return {
      ok: false,
      reason: "signed_text_mismatch",
      message: 'signed text is not "<request hash>:<response hash>"',
      ...base,
    };
  }
  if (parts[0]?.toLowerCase() !== requestHash) {
    return {
      ok: false,
      reason: "request_hash_mismatch",
      message: `signed request hash ${parts[0]} is not sha256 of the request body (${requestHash})`,
      ...base,
    };
  }
  if (parts[1]?.toLowerCase() !== responseHash) {
    return {
      ok: false,
      reason: "response_hash_mismatch",
      message: `signed response hash ${parts[1]} is not sha256 of the response body (${responseHash})`,
      ...base,
    };
  }
  if (p.signedText !== `${requestHash}:${responseHash}`) {
    return {
      ok: false,
      reason: "signed_text_mismatch",
      message: "signed text is not in canonical lowercase form",
      ...base,
    };
  }
  const rec = recoverCached(p.signedText, p.signature, expected, p.cache);
  if (!rec)
    return {
      ok: false,
      reason: "signature_invalid",
      message: "signature does not recover to a public key (bad v, high-S or invalid point)",
      ...base,
    };
  if (rec.address !== expected) {
    return {
      ok: false,
      reason: "signature_mismatch",
      message: `signature recovers to ${rec.address}, not the enclave address ${expected}`,
      signer: rec.address,
      pubkey: rec.pubkey,
      ...base,
    };
  }
  return { ok: true, signer: rec.address, pubkey: rec.pubkey, ...base };
}
