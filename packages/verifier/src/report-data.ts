import { keccak_256 } from "@noble/hashes/sha3.js";
import { InvalidInputError } from "./errors/input.js";
import { bytesToHex, concatBytes, hexToBytesStrict, utf8ToBytes } from "./internal/bytes.js";
import type { ReportDataBindingName } from "./policy.js";

/** Checksum forms computed lately, by lowercase hex (a proof's check asks for the same few addresses). */
const checksums = new Map<string, string>();
const maxChecksums = 256;

/** EIP-55 checksum form of a 0x address. Throws InvalidInputError naming `field` if not a 20-byte hex address. */
export function toChecksumAddress(address: string, field = "address"): string {
  if (typeof address !== "string") throw new InvalidInputError(field, "expected a 0x address string");
  const lower = address.toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{40}$/.test(lower))
    throw new InvalidInputError(field, `not a 20-byte hex address: ${address}`);
  const known = checksums.get(lower);
  if (known !== undefined) return known;
  const hash = bytesToHex(keccak_256(utf8ToBytes(lower)));
  let out = "0x";
  for (let i = 0; i < 40; i++)
    out += Number.parseInt(hash[i] as string, 16) >= 8 ? (lower[i] as string).toUpperCase() : lower[i];
  if (checksums.size >= maxChecksums) checksums.clear();
  checksums.set(lower, out);
  return out;
}

export interface ExpectedReportDataParameters {
  /** Enclave signing address (0x…, any case). */
  address: string;
  binding: ReportDataBindingName;
  /** X25519 public key (32 bytes), required for "enc-pub-v1". */
  encPubkey?: Uint8Array | undefined;
}

export type ExpectedReportDataErrorType = InvalidInputError;

/**
 * The 64-byte REPORTDATA a 0G provider's quote must carry for `address` (0g-compute note §4):
 * - "address-ascii": the 42 ASCII chars of the EIP-55 address, zero-padded (0G legacy default);
 * - "enc-pub-v1": X25519 enc pubkey (32) ‖ address (20) ‖ uint32 BE 1 ‖ 8 zero bytes;
 * - "address-raw": the 20 address bytes, zero-padded.
 *
 * @example
 * expectedReportData({ address: "0x5aAe…", binding: "address-ascii" }) // Uint8Array(64)
 */
export function expectedReportData(p: ExpectedReportDataParameters): Uint8Array {
  const out = new Uint8Array(64);
  const checksummed = toChecksumAddress(p.address);
  if (p.binding === "address-ascii") out.set(utf8ToBytes(checksummed));
  else if (p.binding === "address-raw") out.set(hexToBytesStrict(checksummed, "address"));
  else if (p.binding === "enc-pub-v1") {
    if (!(p.encPubkey instanceof Uint8Array) || p.encPubkey.length !== 32) {
      throw new InvalidInputError("encPubkey", "32-byte X25519 public key required for enc-pub-v1");
    }
    out.set(concatBytes(p.encPubkey, hexToBytesStrict(checksummed, "address"), Uint8Array.of(0, 0, 0, 1)));
  } else throw new InvalidInputError("binding", `unknown report-data binding ${String(p.binding)}`);
  return out;
}
