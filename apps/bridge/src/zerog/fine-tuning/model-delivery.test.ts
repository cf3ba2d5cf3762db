import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encryptModel, encryptSecretForUser } from "@chaoschain/zerog-devnet";
import { keccak256, SigningKey, Wallet } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  decryptModelFile,
  decryptModelKey,
  openHashedSink,
  readModelEnvelope,
  recoverTagSigner,
} from "./model-delivery.js";

const tee = Wallet.createRandom();
const user = Wallet.createRandom();
let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ft-delivery-"));
});

/** Writes an encrypted model (the provider's format, small chunks) the way the bridge downloads it. */
async function delivered(plaintext: Uint8Array, chunkSize: number, mutate?: (b: Buffer) => void) {
  const enc = encryptModel({ plaintext, teeKey: tee.privateKey, chunkSize });
  const bytes = Buffer.from(enc.encrypted);
  mutate?.(bytes);
  const path = join(dir, `model-${n++}.enc`);
  const sink = await openHashedSink(path);
  for (let i = 0; i < bytes.length; i += 1000) await sink.write(bytes.subarray(i, i + 1000));
  const written = await sink.close();
  return { enc, path, written };
}

describe("model delivery", () => {
  it("decrypts a multi-chunk delivery: hashes, tags, tag signer, ECIES key, plaintext", async () => {
    const plaintext = randomBytes(10_000);
    const { enc, path, written } = await delivered(plaintext, 4096);
    expect(written).toEqual({ size: enc.encrypted.length, keccak256: enc.modelRootHash });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const envelope = await readModelEnvelope(path, written.size, 4096);
    if (!envelope.ok) throw new Error(envelope.problem);
    expect(envelope.chunks.map((c) => c.length)).toEqual([4096, 4096, 1808]);
    expect(envelope.tags.length).toBe(48);
    expect(recoverTagSigner(envelope.tags, envelope.tagSignature)).toEqual({
      address: tee.address,
      publicKey: new SigningKey(tee.privateKey).publicKey,
    });
    const secret = Buffer.from(
      encryptSecretForUser(new SigningKey(user.privateKey).publicKey, enc.key),
    ).toString("hex");
    const key = decryptModelKey(`0x${secret}`, user.privateKey);
    expect(key).toEqual(Uint8Array.from(enc.key));
    const out = join(dir, "model.out");
    const result = await decryptModelFile(path, envelope, key!, out);
    expect(result).toEqual({
      ok: true,
      sha256: createHash("sha256").update(plaintext).digest("hex"),
      size: plaintext.length,
      head: Uint8Array.from(plaintext.subarray(0, 4)),
    });
    expect(Buffer.compare(await readFile(out), plaintext)).toBe(0);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it("a tampered chunk fails its tag; another signer or a swapped tag is seen; a wrong wallet cannot open the key", async () => {
    const plaintext = randomBytes(5000);
    const flipped = await delivered(plaintext, 4096, (b) => {
      b[100] = (b[100] ?? 0) ^ 1;
    });
    expect(flipped.written.keccak256).not.toBe(flipped.enc.modelRootHash);
    const env = await readModelEnvelope(flipped.path, flipped.written.size, 4096);
    if (!env.ok) throw new Error(env.problem);
    // The tags are intact, so the tag signature still verifies: only the chunk's GCM tag catches it.
    expect(recoverTagSigner(env.tags, env.tagSignature)?.address).toBe(tee.address);
    expect(
      await decryptModelFile(flipped.path, env, Uint8Array.from(flipped.enc.key), join(dir, "x1")),
    ).toEqual({
      ok: false,
      problem: "chunk 1 of the model does not decrypt (GCM tag mismatch)",
    });
    // A changed tag no longer matches the tag signature.
    const tagged = await delivered(plaintext, 4096, (b) => {
      b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 1;
    });
    const env2 = await readModelEnvelope(tagged.path, tagged.written.size, 4096);
    if (!env2.ok) throw new Error(env2.problem);
    expect(recoverTagSigner(env2.tags, env2.tagSignature)?.address).not.toBe(tee.address);
    const secret = encryptSecretForUser(new SigningKey(user.privateKey).publicKey, randomBytes(32));
    expect(decryptModelKey(keccak256(secret).slice(0, 40), user.privateKey)).toBeUndefined();
    expect(
      decryptModelKey(`0x${Buffer.from(secret).toString("hex")}`, Wallet.createRandom().privateKey),
    ).toBeUndefined();
    expect(decryptModelKey("0x", user.privateKey)).toBeUndefined();
  });

  it("malformed envelopes and signatures are values, not throws", async () => {
    const path = join(dir, "short.enc");
    await writeFile(path, randomBytes(80));
    expect(await readModelEnvelope(path, 80)).toEqual({
      ok: false,
      problem: "the encrypted model is 80 bytes, too short to hold a chunk",
    });
    const ends = join(dir, "ends.enc");
    await writeFile(ends, randomBytes(77 + 4096 + 16 + 10));
    expect(await readModelEnvelope(ends, 77 + 4096 + 16 + 10, 4096)).toEqual({
      ok: false,
      problem: "the encrypted model ends with a chunk shorter than its tag",
    });
    expect(recoverTagSigner(new Uint8Array(16), new Uint8Array(64))).toBeUndefined();
    expect(recoverTagSigner(new Uint8Array(16), new Uint8Array(65).fill(7))).toBeUndefined();
    expect(recoverTagSigner(new Uint8Array(16), new Uint8Array(65))).toBeUndefined();
  });
});
