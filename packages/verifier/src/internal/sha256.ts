import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

type NodeCrypto = typeof import("node:crypto");

// Node's own SHA-256 (OpenSSL) where there is one: several times faster than the JS implementation on
// the kilobytes of quotes, collateral and event logs hashed for cache keys. Browsers use @noble/hashes.
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.("node:crypto") as NodeCrypto | undefined;

/** SHA-256 of `data` (the same digest either way). */
export const sha256: (data: Uint8Array) => Uint8Array = nodeCrypto
  ? (data) => {
      const digest = nodeCrypto.createHash("sha256").update(data).digest();
      return new Uint8Array(digest.buffer, digest.byteOffset, digest.length);
    }
  : (data) => nobleSha256(data);
