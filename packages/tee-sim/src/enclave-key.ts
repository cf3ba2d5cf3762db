import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { toChecksumAddress } from "./report-data.js";
import { bytesToHex, concatBytes, deriveBytes, randomSeed, utf8ToBytes } from "./util.js";

export interface EnclaveKey {
  privateKey: Uint8Array;
  /** 0x04-prefixed uncompressed public key, hex. */
  publicKey: string;
  /** EIP-55 address. */
  address: string;
  /** EIP-191 personal_sign of `text`: 0x-hex r‖s‖v, v = 27/28. */
  signPersonalMessage(text: string | Uint8Array): string;
}

/** A secp256k1 "enclave signing key" like dstack's GetKey("/") result. Deterministic for a seed. */
export function createEnclaveKey(opts: { seed?: string } = {}): EnclaveKey {
  const privateKey = secp256k1.utils.randomSecretKey(
    deriveBytes(opts.seed ?? randomSeed(), "enclave-key", secp256k1.lengths.seed as number),
  );
  const pub = secp256k1.getPublicKey(privateKey, false);
  const address = toChecksumAddress(bytesToHex(keccak_256(pub.subarray(1)).subarray(12)));
  return {
    privateKey,
    publicKey: `0x${bytesToHex(pub)}`,
    address,
    signPersonalMessage(text) {
      const msg = typeof text === "string" ? utf8ToBytes(text) : text;
      const digest = keccak_256(concatBytes(utf8ToBytes(`\x19Ethereum Signed Message:\n${msg.length}`), msg));
      const rec = secp256k1.sign(digest, privateKey, { prehash: false, format: "recovered" });
      // noble: recovery byte first; Ethereum: r ‖ s ‖ v
      return `0x${bytesToHex(concatBytes(rec.subarray(1), Uint8Array.of((rec[0] as number) + 27)))}`;
    },
  };
}
