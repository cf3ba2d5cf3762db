import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { getBytes, keccak256, recoverAddress, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encryptModel, encryptSecretForUser, MODEL_CHUNK_SIZE } from "./model-encryption.js";

// The SDK's decryption (lib.commonjs/common/utils/encrypt.js), loaded by path: not exported.
const require = createRequire(import.meta.url);
const sdkUtils = require(
  join(dirname(require.resolve("@0gfoundation/0g-compute-ts-sdk")), "common/utils/index.js"),
) as {
  eciesDecrypt(signer: { privateKey: string }, encrypted: string): Promise<string>;
  aesGCMDecryptToFile(keyHex: string, encPath: string, outPath: string, teeSigner: string): Promise<void>;
};

const tee = Wallet.createRandom();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "zerog-enc-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sdkDecrypt(encrypted: Uint8Array, keyHex: string, signer: string): Promise<Buffer> {
  const enc = join(dir, "model.enc");
  const out = join(dir, "model.out");
  await writeFile(enc, encrypted);
  await sdkUtils.aesGCMDecryptToFile(keyHex, enc, out, signer);
  return readFile(out);
}

describe("encryptModel ↔ the SDK's decryptModel", () => {
  test("layout: tag signature ‖ iv ‖ ciphertext ‖ tag; signature over raw keccak(tags), v = 0/1", async () => {
    const plaintext = Buffer.from("PK\u0003\u0004 a small model");
    const iv = Uint8Array.from({ length: 12 }, (_, i) => i);
    const r = encryptModel({ plaintext, teeKey: tee.privateKey, iv });
    expect(r.encrypted.length).toBe(65 + 12 + plaintext.length + 16);
    expect(Buffer.from(r.encrypted.subarray(65, 77))).toEqual(Buffer.from(iv));
    expect(r.encrypted[64]).toBeLessThanOrEqual(1);
    const tag = r.encrypted.subarray(r.encrypted.length - 16);
    expect(recoverAddress(keccak256(tag), r.tagSignature)).toBe(tee.address);
    expect(r.modelRootHash).toBe(keccak256(r.encrypted));
    expect(await sdkDecrypt(r.encrypted, Buffer.from(r.key).toString("hex"), tee.address)).toEqual(plaintext);
  });

  test("two 64 MiB chunks: the nonce increments across the 12 bytes (carry from 0xff)", async () => {
    const plaintext = Buffer.alloc(MODEL_CHUNK_SIZE + 1000);
    for (let i = 0; i < plaintext.length; i += 4096) plaintext[i] = i & 0xff;
    const iv = new Uint8Array(12).fill(0xff);
    iv[0] = 7;
    const r = encryptModel({ plaintext, teeKey: tee.privateKey, iv });
    expect(r.encrypted.length).toBe(65 + 12 + plaintext.length + 2 * 16);
    const out = await sdkDecrypt(r.encrypted, Buffer.from(r.key).toString("hex"), tee.address);
    expect(out.equals(plaintext)).toBe(true);
  });

  test("a tag signature by another key fails the SDK's check", async () => {
    const r = encryptModel({ plaintext: Buffer.from("model"), teeKey: Wallet.createRandom().privateKey });
    await expect(sdkDecrypt(r.encrypted, Buffer.from(r.key).toString("hex"), tee.address)).rejects.toThrow(
      "Invalid tag signature",
    );
  });

  test("misuse throws RangeError", () => {
    expect(() =>
      encryptModel({ plaintext: Buffer.from("x"), teeKey: tee.privateKey, key: new Uint8Array(16) }),
    ).toThrow(RangeError);
    expect(() =>
      encryptModel({ plaintext: Buffer.from("x"), teeKey: tee.privateKey, iv: new Uint8Array(16) }),
    ).toThrow(RangeError);
  });
});

test("encryptSecretForUser: the SDK's eciesDecrypt(wallet key) returns the AES key", async () => {
  const user = Wallet.createRandom();
  const secret = getBytes(keccak256("0x01"));
  const encrypted = encryptSecretForUser(user.signingKey.publicKey, secret);
  expect(encrypted.length).toBe(65 + 16 + 16 + 32);
  const hex = await sdkUtils.eciesDecrypt(
    { privateKey: user.privateKey },
    Buffer.from(encrypted).toString("hex"),
  );
  expect(hex).toBe(Buffer.from(secret).toString("hex"));
});
