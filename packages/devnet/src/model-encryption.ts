import { createCipheriv, randomBytes } from "node:crypto";
import { encrypt as eciesEncrypt } from "eciesjs";
import { concat, getBytes, keccak256, SigningKey } from "ethers";

/** Plaintext bytes per AES-GCM chunk: 64 MiB ([Go] `api/common/util/crypto.go` defaultBufferSize). */
export const MODEL_CHUNK_SIZE = 64 * 1024 * 1024;

export type EncryptModelParameters = {
  /** The plaintext artifact (the zip of the provider's output directory). */
  plaintext: Uint8Array;
  /** 32-byte AES-256 key. Default: random. */
  key?: Uint8Array | undefined;
  /** 12-byte initial GCM nonce. Default: random. */
  iv?: Uint8Array | undefined;
  /** Private key of the TEE signer that signs the tags. */
  teeKey: string;
  /** Plaintext bytes per chunk. Default {@link MODEL_CHUNK_SIZE}; the SDK only decrypts that size. */
  chunkSize?: number | undefined;
};

export type EncryptModelReturnType = {
  /** The file the provider serves: tagSig (65) ‖ iv (12) ‖ for each chunk: ciphertext ‖ tag (16). */
  encrypted: Uint8Array;
  key: Uint8Array;
  /** `keccak256(encrypted)`: the 32-byte `modelRootHash` of a provider that keeps the model in the TEE. */
  modelRootHash: string;
  /** The 65-byte tag signature (r ‖ s ‖ v with v = 0/1, as go-ethereum's `crypto.Sign`). */
  tagSignature: string;
};

/**
 * Encrypts a fine-tuned model exactly as the provider broker does ([Go] `util.AesEncryptLargeFile` and
 * `services/finalizer.go` `encryptModelLocal`): AES-256-GCM over 64 MiB chunks, the 12-byte nonce
 * incremented (big-endian, over all 12 bytes) after each chunk, each chunk followed by its 16-byte tag;
 * the TEE key signs `keccak256(tag1 ‖ tag2 ‖ …)` without an EIP-191 prefix and the signature is written
 * over the first 65 bytes. The SDK's `decryptModel` (`common/utils/encrypt.js` aesGCMDecryptToFile)
 * reverses it and requires the tag signature to recover to the service's `teeSignerAddress`.
 *
 * @example
 * const { encrypted, key, modelRootHash } = encryptModel({ plaintext: zip, teeKey: tee.privateKey });
 */
export function encryptModel(params: EncryptModelParameters): EncryptModelReturnType {
  const key = params.key ?? randomBytes(32);
  if (key.length !== 32) throw new RangeError(`key: expected 32 bytes, got ${key.length}`);
  const iv = Uint8Array.from(params.iv ?? randomBytes(12));
  if (iv.length !== 12) throw new RangeError(`iv: expected 12 bytes, got ${iv.length}`);
  const chunkSize = params.chunkSize ?? MODEL_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0)
    throw new RangeError("chunkSize must be a positive integer");
  const parts: Uint8Array[] = [new Uint8Array(65), Uint8Array.from(iv)];
  const tags: Uint8Array[] = [];
  for (let offset = 0; offset < params.plaintext.length; offset += chunkSize) {
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const chunk = params.plaintext.subarray(offset, offset + chunkSize);
    parts.push(cipher.update(chunk), cipher.final());
    const tag = cipher.getAuthTag();
    parts.push(tag);
    tags.push(tag);
    incrementNonce(iv);
  }
  const sig = new SigningKey(params.teeKey).sign(keccak256(Buffer.concat(tags)));
  const tagSignature = concat([sig.r, sig.s, sig.yParity === 0 ? "0x00" : "0x01"]);
  const encrypted = Buffer.concat(parts);
  encrypted.set(getBytes(tagSignature), 0);
  return { encrypted, key, modelRootHash: keccak256(encrypted), tagSignature };
}

/** Big-endian increment over all bytes ([Go] `incrementNonce`; SDK `aesGCMDecryptToFile`). */
function incrementNonce(counter: Uint8Array): void {
  for (let i = counter.length - 1; i >= 0; i--) {
    counter[i] = ((counter[i] ?? 0) + 1) & 0xff;
    if (counter[i] !== 0) break;
  }
}

/**
 * ECIES-encrypts the model key to the user's secp256k1 public key (`0x04…`, recovered from the task
 * signature), as [Go] `ecies/go/v2` `Encrypt` does; the SDK decrypts it with `eciesjs` `decrypt(wallet
 * key)` (ephemeral key 65 ‖ nonce 16 ‖ tag 16 ‖ ciphertext).
 *
 * @example
 * const encryptedSecret = encryptSecretForUser(userPublicKey, key); // bytes for settleFees
 */
export function encryptSecretForUser(userPublicKey: string, secret: Uint8Array): Uint8Array {
  return Uint8Array.from(eciesEncrypt(getBytes(userPublicKey), secret));
}
