import {
  getBytes,
  hashMessage,
  keccak256,
  type SigningKey,
  solidityPackedKeccak256,
  toUtf8Bytes,
} from "ethers";

/**
 * The user's signatures in the 0G fine-tuning provider protocol: EIP-191 `personal_sign` over the 32
 * bytes of a keccak digest, as the Go broker checks them (`accounts.TextHash(digest)`). SDK 0.9.0 signs
 * `toBeArray(digest)` instead, which drops leading zero bytes, so 1 of its signatures in 256 is over a
 * 31-byte message and a real provider refuses it; these always sign all 32 bytes.
 */
export function signDigest(key: SigningKey, digest: string): string {
  return key.sign(hashMessage(getBytes(digest))).serialized;
}

/** Dataset upload: `keccak256(utf8(user + timestamp))`, the user spelled as in the URL path. */
export const datasetUploadDigest = (user: string, timestamp: number): string =>
  keccak256(toUtf8Bytes(`${user}${timestamp}`));

/**
 * Task creation: `solidityPackedKeccak256([address, uint256, string], [user, nonce, datasetHash])`. The
 * provider recovers the public key from this signature and encrypts the model key to it.
 */
export const createTaskDigest = (user: string, nonce: bigint, datasetHash: string): string =>
  solidityPackedKeccak256(["address", "uint256", "string"], [user, nonce, datasetHash]);

/** Cancellation: `keccak256` of the task UUID's 16 bytes. */
export const cancelTaskDigest = (taskId: string): string => keccak256(`0x${uuidHex(taskId)}`);

/** Model download: `keccak256(utf8(uuid without dashes + timestamp))`. */
export const modelDownloadDigest = (taskId: string, timestamp: number): string =>
  keccak256(toUtf8Bytes(`${uuidHex(taskId)}${timestamp}`));

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` is a canonical UUID, the only task id form the provider issues. */
export const isTaskId = (id: unknown): id is string => typeof id === "string" && uuidPattern.test(id);

function uuidHex(taskId: string): string {
  if (!isTaskId(taskId))
    throw new RangeError(`not a task id (UUID): ${JSON.stringify(String(taskId).slice(0, 64))}`);
  return taskId.replaceAll("-", "");
}
