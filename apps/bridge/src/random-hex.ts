import { randomFillSync } from "node:crypto";

// One call into OpenSSL per 4 KiB of ids instead of one per id: `randomBytes(8)` costs about 15 µs, nearly
// all of it the call, on every Submit. Each byte of the pool is used once.
const pool = Buffer.alloc(4096);
let offset = pool.length;

/** `bytes` cryptographically random bytes, as lower-case hex. */
export function randomHex(bytes: number): string {
  if (bytes > pool.length) return randomFillSync(Buffer.alloc(bytes)).toString("hex");
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString("hex", offset, offset + bytes);
  offset += bytes;
  return hex;
}
