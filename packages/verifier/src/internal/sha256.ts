import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { nodeBuiltin } from "./node-builtin.js";

type NodeCrypto = typeof import("node:crypto");

// Node's own SHA-256 (OpenSSL) where there is one: several times faster than the JS implementation on
// the kilobytes of quotes, collateral and event logs hashed for cache keys. Browsers use @noble/hashes.
const nodeCrypto = nodeBuiltin<NodeCrypto>("node:crypto");

/** SHA-256 of `data` (the same digest either way). */
export const sha256: (data: Uint8Array) => Uint8Array = nodeCrypto
  ? (data) => {
      const digest = nodeCrypto.createHash("sha256").update(data).digest();
      return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
    }
  : (data) => nobleSha256(data);

/**
 * Lowercase hex SHA-256 of `parts` one after the other, each string as UTF-8, without copying them into one
 * buffer first (cache keys of tens of kilobytes of collateral and event-log text, on every call).
 */
export const sha256Hex: (...parts: (string | Uint8Array)[]) => string = nodeCrypto
  ? (...parts) => {
      const hash = nodeCrypto.createHash("sha256");
      for (const part of parts) hash.update(part);
      return hash.digest("hex");
    }
  : (...parts) => {
      const hash = nobleSha256.create();
      for (const part of parts) hash.update(typeof part === "string" ? utf8ToBytes(part) : part);
      return bytesToHex(hash.digest());
    };
