import { createDecipheriv, createHash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { recoverDigestSigner } from "@chaoschain/zerog-verifier";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { decrypt as eciesDecrypt } from "eciesjs";
import { getBytes, hexlify } from "ethers";

/**
 * Layout of a delivered model ([Go] `0g-serving-broker` util.AesEncryptLargeFile, finalizer.go; SDK
 * `common/utils/encrypt.js` aesGCMDecryptToFile): tagSig (65) ‖ iv (12) ‖ per 64 MiB of plaintext:
 * ciphertext ‖ GCM tag (16); the IV is incremented big-endian after each chunk.
 */
export const MODEL_CHUNK_BYTES = 64 * 1024 * 1024;
const TAG_SIG_BYTES = 65;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = TAG_SIG_BYTES + IV_BYTES;

/** Creates a file only the bridge's user can read (0600); fails if it exists. */
export function createPrivateFile(path: string): Promise<FileHandle> {
  return open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
}

/** Streams bytes to a new 0600 file while hashing them with keccak256; `size` and `keccak256` at the end. */
export async function openHashedSink(path: string) {
  const file = await createPrivateFile(path);
  const hash = keccak_256.create();
  let size = 0;
  return {
    async write(chunk: Uint8Array) {
      hash.update(chunk);
      size += chunk.length;
      let offset = 0;
      while (offset < chunk.length) offset += (await file.write(chunk, offset)).bytesWritten;
    },
    async close(): Promise<{ size: number; keccak256: string }> {
      await file.sync();
      await file.close();
      return { size, keccak256: hexlify(hash.digest()) };
    },
    async abort() {
      await file.close().catch(() => {});
    },
  };
}

/** The tags and signature of an encrypted model file, or why its layout is wrong. */
export type ModelEnvelope =
  | {
      ok: true;
      tagSignature: Uint8Array;
      iv: Uint8Array;
      tags: Uint8Array;
      chunks: { offset: number; length: number }[];
    }
  | { ok: false; problem: string };

/**
 * Reads the envelope (tag signature, IV, each chunk's position and tag) of an encrypted model file.
 * `chunkBytes` is the plaintext chunk size: 64 MiB in the protocol.
 */
export async function readModelEnvelope(
  path: string,
  size: number,
  chunkBytes = MODEL_CHUNK_BYTES,
): Promise<ModelEnvelope> {
  const body = size - HEADER_BYTES;
  if (body < TAG_BYTES)
    return { ok: false, problem: `the encrypted model is ${size} bytes, too short to hold a chunk` };
  const file = await open(path, constants.O_RDONLY);
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    await file.read(header, 0, HEADER_BYTES, 0);
    const chunks: { offset: number; length: number }[] = [];
    const tags: Buffer[] = [];
    for (let offset = HEADER_BYTES; offset < size; ) {
      const length = Math.min(chunkBytes + TAG_BYTES, size - offset);
      if (length <= TAG_BYTES)
        return { ok: false, problem: "the encrypted model ends with a chunk shorter than its tag" };
      const tag = Buffer.alloc(TAG_BYTES);
      await file.read(tag, 0, TAG_BYTES, offset + length - TAG_BYTES);
      tags.push(tag);
      chunks.push({ offset, length: length - TAG_BYTES });
      offset += length;
    }
    return {
      ok: true,
      tagSignature: header.subarray(0, TAG_SIG_BYTES),
      iv: header.subarray(TAG_SIG_BYTES, HEADER_BYTES),
      tags: Buffer.concat(tags),
      chunks,
    };
  } finally {
    await file.close();
  }
}

/**
 * Recovers the signer of a tag signature: raw secp256k1 over `keccak256(tags)`, no EIP-191 prefix, v = 0/1
 * (or 27/28). Returns the EIP-55 address and the uncompressed public key, or undefined when malformed.
 */
export function recoverTagSigner(
  tags: Uint8Array,
  tagSignature: Uint8Array,
): { address: string; publicKey: string } | undefined {
  const rec = recoverDigestSigner(keccak_256(tags), tagSignature);
  return rec && { address: rec.address, publicKey: rec.pubkey };
}

/** The model key: `encryptedSecret` ECIES-decrypted with the wallet key; undefined when it does not decrypt. */
export function decryptModelKey(encryptedSecret: string, walletKey: string): Uint8Array | undefined {
  try {
    const key = eciesDecrypt(walletKey.replace(/^0x/, ""), getBytes(encryptedSecret));
    return key.length === 32 ? Uint8Array.from(key) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decrypts an encrypted model file chunk by chunk (AES-256-GCM, every tag checked) into a new 0600 file,
 * one chunk in memory at a time. Returns the plaintext's sha256 and size, or why it failed (a wrong key
 * or a tampered chunk fails its tag); a partial output is removed by the caller.
 */
export async function decryptModelFile(
  encryptedPath: string,
  envelope: Extract<ModelEnvelope, { ok: true }>,
  key: Uint8Array,
  outputPath: string,
): Promise<{ ok: true; sha256: string; size: number; head: Uint8Array } | { ok: false; problem: string }> {
  const input = await open(encryptedPath, constants.O_RDONLY);
  const output = await createPrivateFile(outputPath);
  const hash = createHash("sha256");
  const iv = Buffer.from(envelope.iv);
  let size = 0;
  let head = new Uint8Array();
  try {
    for (const [i, chunk] of envelope.chunks.entries()) {
      const ciphertext = Buffer.alloc(chunk.length);
      await input.read(ciphertext, 0, chunk.length, chunk.offset);
      const decipher = createDecipheriv("aes-256-gcm", key, iv);
      decipher.setAuthTag(envelope.tags.subarray(i * TAG_BYTES, (i + 1) * TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
      } catch {
        return { ok: false, problem: `chunk ${i + 1} of the model does not decrypt (GCM tag mismatch)` };
      }
      if (i === 0) head = Uint8Array.from(plain.subarray(0, 4));
      hash.update(plain);
      size += plain.length;
      let offset = 0;
      while (offset < plain.length) offset += (await output.write(plain, offset)).bytesWritten;
      incrementIv(iv);
    }
    await output.sync();
    return { ok: true, sha256: hash.digest("hex"), size, head };
  } finally {
    await input.close();
    await output.close();
  }
}

function incrementIv(iv: Buffer): void {
  for (let i = iv.length - 1; i >= 0; i--) {
    iv[i] = ((iv[i] ?? 0) + 1) & 0xff;
    if (iv[i] !== 0) break;
  }
}
