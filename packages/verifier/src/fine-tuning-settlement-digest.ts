import { keccak_256 } from "@noble/hashes/sha3.js";
import { concatBytes, hexToBytesStrict, utf8ToBytes } from "./internal/bytes.js";

const DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
const MESSAGE_TYPE =
  "VerifierMessage(string id,bytes encryptedSecret,bytes modelRootHash,uint256 nonce,uint256 taskFee,address user)";

/** What the TEE signs when its provider settles a fine-tuning task (`FineTuningServing.settleFees`). */
export interface FineTuningSettlementMessage {
  chainId: bigint;
  /** The FineTuningServing contract (EIP-712 verifyingContract). */
  fineTuningContract: string;
  /** The task id (the deliverable id). */
  id: string;
  encryptedSecret: Uint8Array;
  modelRootHash: Uint8Array;
  nonce: bigint;
  taskFee: bigint;
  user: string;
}

const word = (n: bigint): Uint8Array => {
  if (n < 0n || n >= 1n << 256n) throw new RangeError("uint256 out of range");
  return hexToBytesStrict(n.toString(16).padStart(64, "0"), "uint256");
};
const address = (a: string): Uint8Array => {
  const b = hexToBytesStrict(a, "address");
  if (b.length !== 20) throw new RangeError("address: expected 20 bytes");
  return concatBytes(new Uint8Array(12), b);
};

/**
 * The EIP-712 digest of a fine-tuning settlement ([sol] `0g-serving-contract` FineTuningVerifier.sol):
 * domain {name "0G Fine-Tuning Serving", version "1", chainId, verifyingContract}, struct
 * `VerifierMessage(string id, bytes encryptedSecret, bytes modelRootHash, uint256 nonce, uint256 taskFee,
 * address user)`. Throws `RangeError` for a value out of its type's range.
 */
export function fineTuningSettlementDigest(m: FineTuningSettlementMessage): Uint8Array {
  const domain = keccak_256(
    concatBytes(
      keccak_256(utf8ToBytes(DOMAIN_TYPE)),
      keccak_256(utf8ToBytes("0G Fine-Tuning Serving")),
      keccak_256(utf8ToBytes("1")),
      word(m.chainId),
      address(m.fineTuningContract),
    ),
  );
  const struct = keccak_256(
    concatBytes(
      keccak_256(utf8ToBytes(MESSAGE_TYPE)),
      keccak_256(utf8ToBytes(m.id)),
      keccak_256(m.encryptedSecret),
      keccak_256(m.modelRootHash),
      word(m.nonce),
      word(m.taskFee),
      address(m.user),
    ),
  );
  return keccak_256(concatBytes(Uint8Array.of(0x19, 0x01), domain, struct));
}
