import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { bytesToHex, concatBytes } from "./bytes.js";
import { nodeBuiltin } from "./node-builtin.js";

/**
 * secp256k1 public-key recovery: the 65-byte uncompressed key whose signature `rs` (r ‖ s, 64 bytes) over the
 * 32-byte `digest` is, with the recovery id `recid`; undefined when there is none. The caller checks the
 * signature's form first (0 < r < n, 0 < s ≤ n/2): both implementations then give the same answers
 * (`test/signature-differential.test.ts`).
 */
export interface Secp256k1Recovery {
  readonly name: "libsecp256k1" | "@noble/curves";
  recover(digest: Uint8Array, rs: Uint8Array, recid: 0 | 1): Uint8Array | undefined;
}

/** @noble/curves (pure JS): in browsers, and in Node when libsecp256k1 cannot be loaded. */
export const nobleRecovery: Secp256k1Recovery = {
  name: "@noble/curves",
  recover(digest, rs, recid) {
    try {
      return secp256k1.Signature.fromBytes(concatBytes(Uint8Array.of(recid), rs), "recovered")
        .recoverPublicKey(digest)
        .toBytes(false);
    } catch {
      return undefined;
    }
  },
};

interface TinySecp256k1 {
  recover(digest: Uint8Array, rs: Uint8Array, recid: 0 | 1, compressed: false): Uint8Array | null;
}

// Private key 1 signing 32 bytes of 0xab: recovers to the generator point.
const SELF_TEST = {
  digest: new Uint8Array(32).fill(0xab),
  rs: "a01fd9343bce99b2865d4f63e8ece20ca5b741772ead1069e28cc878bf52015f4b8b089c65f5f24b8ca8d3a987c2392a4ea7b379c457f85d7b91cab609d39c44",
  recid: 1,
  key: "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
} as const;

type Require = (id: string) => unknown;

/** Node's `require` from this module, in Node only: bundlers see no import of tiny-secp256k1. */
function nodeRequire(): Require | undefined {
  return nodeBuiltin<typeof import("node:module")>("node:module")?.createRequire(import.meta.url);
}

/**
 * libsecp256k1 compiled to WASM (tiny-secp256k1), about twice as fast as @noble/curves with a known key and
 * five times without, with almost no garbage. Loaded with `load` (Node's `require`; undefined outside Node) and
 * checked on a known vector; the Error says why it cannot be used (not Node, WASM disabled, package missing).
 */
export function loadLibsecp256k1(load: Require | undefined): Secp256k1Recovery | Error {
  if (!load) return new Error("not running in Node");
  let lib: TinySecp256k1;
  try {
    lib = load("tiny-secp256k1") as TinySecp256k1;
    const key = lib.recover(SELF_TEST.digest, hexToBytes(SELF_TEST.rs), SELF_TEST.recid, false);
    if (!key || bytesToHex(key) !== SELF_TEST.key) return new Error("it fails its self-test");
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
  return {
    name: "libsecp256k1",
    recover(digest, rs, recid) {
      try {
        return lib.recover(digest, rs, recid, false) ?? undefined;
      } catch {
        return undefined; // r is not the x of a curve point
      }
    },
  };
}

let chosen: Secp256k1Recovery | undefined;

/**
 * The recovery in use, chosen on first use: libsecp256k1 in Node, @noble/curves in browsers. Where Node cannot
 * load libsecp256k1 (e.g. `--jitless`, which has no WASM), @noble/curves is used instead, with the same answers,
 * and a process warning (`ZEROG_VERIFIER_SECP256K1_FALLBACK`) says why.
 */
export function secp256k1Recovery(): Secp256k1Recovery {
  if (chosen) return chosen;
  const load = nodeRequire();
  const lib = loadLibsecp256k1(load);
  if (lib instanceof Error && load)
    (globalThis as { process?: { emitWarning?: (m: string, o: object) => void } }).process?.emitWarning?.(
      `libsecp256k1 (tiny-secp256k1) cannot be used (${lib.message}): enclave signatures are checked with @noble/curves instead (same answers, slower)`,
      { code: "ZEROG_VERIFIER_SECP256K1_FALLBACK" },
    );
  chosen = lib instanceof Error ? nobleRecovery : lib;
  return chosen;
}

/** @internal Tests: recover with `recovery` until the returned function restores the previous choice. */
export function useSecp256k1Recovery(recovery: Secp256k1Recovery): () => void {
  const previous = chosen;
  chosen = recovery;
  return () => {
    chosen = previous;
  };
}
