import { secp256k1 } from "@noble/curves/secp256k1.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { bytesToHex, concatBytes } from "./bytes.js";
import { nodeBuiltin } from "./node-builtin.js";

/**
 * secp256k1 public-key recovery: the 65-byte uncompressed key whose signature `rs` (r ‖ s, 64 bytes) over the
 * 32-byte `digest` is, with the recovery id `recid`; undefined when there is none. The caller checks the
 * signature's form first (0 < r < n, 0 < s ≤ n/2): every implementation then gives the same answers
 * (`test/signature-differential.test.ts`).
 */
export interface Secp256k1Recovery {
  readonly name: "libsecp256k1 (native)" | "libsecp256k1 (WASM)" | "@noble/curves";
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

type Recover = (digest: Uint8Array, rs: Uint8Array, recid: 0 | 1) => Uint8Array | null | undefined;
type Require = (id: string) => unknown;

// Private key 1 signing 32 bytes of 0xab: recovers to the generator point.
const SELF_TEST = {
  digest: new Uint8Array(32).fill(0xab),
  rs: "a01fd9343bce99b2865d4f63e8ece20ca5b741772ead1069e28cc878bf52015f4b8b089c65f5f24b8ca8d3a987c2392a4ea7b379c457f85d7b91cab609d39c44",
  recid: 1,
  key: "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
} as const;

/** Node's `require` from this module, in Node only: bundlers see no import of libsecp256k1's packages. */
function nodeRequire(): Require | undefined {
  return nodeBuiltin<typeof import("node:module")>("node:module")?.createRequire(import.meta.url);
}

/** `open`'s recovery once it loaded and passed a known vector; else the Error that says why not. */
function selfTested(
  name: Secp256k1Recovery["name"],
  load: Require | undefined,
  open: (load: Require) => Recover,
): Secp256k1Recovery | Error {
  if (!load) return new Error("not running in Node");
  let recover: Recover;
  try {
    recover = open(load);
    const key = recover(SELF_TEST.digest, hexToBytes(SELF_TEST.rs), SELF_TEST.recid);
    if (!key || bytesToHex(key) !== SELF_TEST.key) return new Error("it fails its self-test");
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
  return {
    name,
    recover(digest, rs, recid) {
      try {
        return recover(digest, rs, recid) ?? undefined;
      } catch {
        return undefined; // r is not the x of a curve point
      }
    },
  };
}

/**
 * libsecp256k1 as a Node addon: the optional `secp256k1` package's prebuilt N-API binding (~40 µs a recovery,
 * five times the WASM build's speed). An Error where the package is missing, has no prebuilt binary for the
 * platform and none was compiled, or Node runs with `--no-addons`.
 */
export function loadNativeLibsecp256k1(load: Require | undefined): Secp256k1Recovery | Error {
  return selfTested("libsecp256k1 (native)", load, (load) => {
    const lib = load("secp256k1/bindings") as {
      ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: false): Uint8Array;
    };
    return (digest, rs, recid) => lib.ecdsaRecover(rs, recid, digest, false);
  });
}

/**
 * libsecp256k1 compiled to WASM (tiny-secp256k1), about twice as fast as @noble/curves with a known key and
 * five times without, with almost no garbage; no native build. Not available without WASM (`--jitless`).
 */
export function loadWasmLibsecp256k1(load: Require | undefined): Secp256k1Recovery | Error {
  return selfTested("libsecp256k1 (WASM)", load, (load) => {
    const lib = load("tiny-secp256k1") as {
      recover(digest: Uint8Array, rs: Uint8Array, recid: 0 | 1, compressed: false): Uint8Array | null;
    };
    return (digest, rs, recid) => lib.recover(digest, rs, recid, false);
  });
}

let chosen: Secp256k1Recovery | undefined;

/**
 * The recovery in use, chosen on first use: in Node libsecp256k1, native where its addon loads, else WASM; in
 * browsers @noble/curves. Where Node can load neither (e.g. `--jitless --no-addons`), @noble/curves is used
 * instead, with the same answers, and a process warning (`ZEROG_VERIFIER_SECP256K1_FALLBACK`) says why.
 */
export function secp256k1Recovery(): Secp256k1Recovery {
  chosen ??= chooseRecovery();
  return chosen;
}

function chooseRecovery(): Secp256k1Recovery {
  const load = nodeRequire();
  const native = loadNativeLibsecp256k1(load);
  if (!(native instanceof Error)) return native;
  const wasm = loadWasmLibsecp256k1(load);
  if (!(wasm instanceof Error)) return wasm;
  if (load)
    (globalThis as { process?: { emitWarning?: (m: string, o: object) => void } }).process?.emitWarning?.(
      `libsecp256k1 cannot be used (native, secp256k1: ${native.message}; WASM, tiny-secp256k1: ${wasm.message}): enclave signatures are checked with @noble/curves instead (same answers, slower)`,
      { code: "ZEROG_VERIFIER_SECP256K1_FALLBACK" },
    );
  return nobleRecovery;
}

/** @internal Tests: recover with `recovery` until the returned function restores the previous choice. */
export function useSecp256k1Recovery(recovery: Secp256k1Recovery): () => void {
  const previous = chosen;
  chosen = recovery;
  return () => {
    chosen = previous;
  };
}
