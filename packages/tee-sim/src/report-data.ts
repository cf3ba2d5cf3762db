import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from "./util.js";

export type ReportDataBinding = "address-ascii" | "enc-pub-v1" | "address-raw";

/** EIP-55 checksum form of a 20-byte address. */
export function toChecksumAddress(address: string): string {
  const lower = address.toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{40}$/.test(lower)) throw new TypeError(`address: not a 20-byte hex address: ${address}`);
  const hash = bytesToHex(keccak_256(utf8ToBytes(lower)));
  let out = "0x";
  for (let i = 0; i < 40; i++)
    out += Number.parseInt(hash[i] as string, 16) >= 8 ? lower[i]?.toUpperCase() : lower[i];
  return out;
}

/**
 * 64-byte REPORTDATA binding `address` as 0G providers do (independent implementation from the verifier's,
 * so tests cross-check both).
 */
export function reportDataFor(
  address: string,
  binding: ReportDataBinding,
  encPubkey?: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(64);
  if (binding === "address-ascii") {
    out.set(utf8ToBytes(toChecksumAddress(address)));
  } else if (binding === "address-raw") {
    out.set(hexToBytes(address.replace(/^0x/i, "")));
  } else {
    if (encPubkey?.length !== 32 || !encPubkey)
      throw new RangeError("encPubkey: 32 bytes required for enc-pub-v1");
    out.set(concatBytes(encPubkey, hexToBytes(address.replace(/^0x/i, "")), Uint8Array.of(0, 0, 0, 1)));
  }
  return out;
}
