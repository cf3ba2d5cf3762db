import {
  getAddress,
  getBytes,
  hashMessage,
  isHexString,
  keccak256,
  SigningKey,
  solidityPackedKeccak256,
  toBeArray,
  toUtf8Bytes,
} from "ethers";

/**
 * The four user signatures of the 0G fine-tuning provider protocol. Each is EIP-191 `personal_sign`
 * over the 32 bytes of a keccak digest (so the signed message is `"\x19Ethereum Signed Message:\n32" ‖
 * digest`). Sources: SDK 0.9.0 `lib.commonjs/common/utils/encrypt.js` (`signRequest`, `signTaskID`,
 * `signDatasetUpload`) and `fine-tuning/provider/provider.js` (`downloadLoRAFromTEE`); [Go]
 * `0g-serving-broker` `api/fine-tuning/internal/services/setup.go` `getHash`, `ctrl/task.go`
 * `validateSignature`.
 */

/** `keccak256(utf8(userAddress + timestamp))`: dataset upload (`POST /v1/user/:user/dataset`). */
export function datasetUploadDigest(userAddress: string, timestamp: number | string): string {
  return keccak256(toUtf8Bytes(`${userAddress}${timestamp}`));
}

/**
 * `solidityPackedKeccak256(["address","uint256","string"], [user, nonce, datasetHash])`: task creation.
 * The provider checks it in setup and keeps the public key it recovers, to which it ECIES-encrypts the
 * model key. (Older providers also packed the fee; SDK 0.9.0 sends `fee: "0"` and leaves it out.)
 */
export function createTaskDigest(userAddress: string, nonce: bigint | string, datasetHash: string): string {
  return solidityPackedKeccak256(["address", "uint256", "string"], [userAddress, BigInt(nonce), datasetHash]);
}

/** `keccak256(uuid bytes)` (the 16 bytes of the task id): task cancellation. */
export function cancelTaskDigest(taskId: string): string {
  return keccak256(uuidBytes(taskId));
}

/** `keccak256(utf8(hex(uuid bytes) + timestamp))`: LoRA download (`POST …/task/:id/lora`). */
export function loraDownloadDigest(taskId: string, timestamp: number | string): string {
  return keccak256(toUtf8Bytes(`${taskId.replace(/-/g, "")}${timestamp}`));
}

/** The 16 bytes of a canonical UUID string. Throws `RangeError` for anything else. */
export function uuidBytes(taskId: string): Uint8Array {
  if (!UUID_RE.test(taskId)) throw new RangeError(`not a UUID: ${JSON.stringify(taskId.slice(0, 64))}`);
  return getBytes(`0x${taskId.replace(/-/g, "")}`);
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Signs a 32-byte digest the way the Go broker checks it: `personal_sign` over all 32 bytes. */
export function signDigest(privateKey: string, digest: string): string {
  return new SigningKey(privateKey).sign(hashMessage(getBytes(digest))).serialized;
}

export type RecoveredSigner = { address: string; publicKey: string };

/**
 * Recovers the signer of `personal_sign(digest)`: its EIP-55 address and uncompressed public key
 * (`0x04…`), or undefined for anything malformed (never throws). Accepts v = 27/28 and 0/1 like the Go
 * broker. `expected` is tried against two messages: the 32 digest bytes (what the Go broker checks) and
 * the digest without its leading zero bytes, because SDK 0.9.0 signs `toBeArray(digest)`, which drops
 * them (1 signature in 256 is over a 31-byte message; a real Go broker rejects those).
 */
export function recoverDigestSigner(
  digest: string,
  signature: unknown,
  expected?: string,
): RecoveredSigner | undefined {
  if (typeof signature !== "string" || !isHexString(signature, 65)) return undefined;
  const v = getBytes(signature)[64] ?? 0;
  if (v !== 0 && v !== 1 && v !== 27 && v !== 28) return undefined;
  const full = getBytes(digest);
  const messages = [full];
  if (full[0] === 0) messages.push(toBeArray(digest));
  let first: RecoveredSigner | undefined;
  for (const message of messages) {
    try {
      const publicKey = SigningKey.recoverPublicKey(hashMessage(message), signature);
      const recovered = { address: addressOfPublicKey(publicKey), publicKey };
      if (expected === undefined || sameUser(recovered.address, expected)) return recovered;
      first ??= recovered;
    } catch {
      // not a valid signature for this message
    }
  }
  return expected === undefined ? first : undefined;
}

function addressOfPublicKey(publicKey: string): string {
  return getAddress(`0x${keccak256(`0x${publicKey.slice(4)}`).slice(-40)}`);
}

/**
 * The Go broker's `sameUser`: two spellings (any case, with or without 0x) of one valid address. Two
 * unparseable strings are never the same account.
 */
export function sameUser(a: string, b: string): boolean {
  const parse = (s: string) =>
    /^(0x)?[0-9a-fA-F]{40}$/.test(s) ? s.replace(/^0x/, "").toLowerCase() : undefined;
  const x = parse(a);
  return x !== undefined && x === parse(b);
}
