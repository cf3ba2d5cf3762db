import { createRequire } from "node:module";
import { createEnclaveKey } from "@chaoschain/zerog-tee-sim";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import fc from "fast-check";
import * as libsecp256k1 from "tiny-secp256k1";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../src/errors/input.js";
import {
  loadWasmLibsecp256k1,
  nobleRecovery,
  type Secp256k1Recovery,
  secp256k1Recovery,
  useSecp256k1Recovery,
} from "../src/internal/secp256k1.js";
import { createVerificationCache } from "../src/verification-cache.js";
import {
  addressOfPublicKey,
  personalMessageDigest,
  verifyResponseSignature,
} from "../src/verify-response-signature.js";

// The enclave signature check, every way it runs, on every input: with libsecp256k1's native addon (Node's
// default), its WASM build (Node's fallback) and @noble/curves (browsers, and Node's last resort), each without a
// cache and with a warm one (for @noble/curves that is the known-signer shortcut, `recoversTo`), against an
// oracle: libsecp256k1's WASM build called directly behind the rules
// the verifier states (65 bytes r‖s‖v, v in {0, 1, 27, 28}, 0 < r < n, 0 < s ≤ n/2, recovery with the recovery
// id v names, the recovered address compared with the expected one).

const N = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
const enclave = createEnclaveKey({ seed: "differential enclave" });
const other = createEnclaveKey({ seed: "differential other" });
const enc = (s: string) => new TextEncoder().encode(s);
const int32 = (x: bigint) => hexToBytes(x.toString(16).padStart(64, "0"));
const intOf = (b: Uint8Array) => BigInt(`0x${bytesToHex(b)}`);

type Outcome = "ok" | "signature_invalid" | "signature_mismatch" | "invalid_input";

/** What the verifier must answer, decided by libsecp256k1 under the stated rules. */
function oracle(text: string, signature: string, expected: string): Outcome {
  const hex = signature.trim().replace(/^0x/i, "").replace(/\s+/g, "");
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex) || hex.length !== 130) return "invalid_input";
  const bytes = hexToBytes(hex.toLowerCase());
  const v = bytes[64] as number;
  const recid = v >= 27 ? v - 27 : v;
  const r = intOf(bytes.subarray(0, 32));
  const s = intOf(bytes.subarray(32, 64));
  if ((recid !== 0 && recid !== 1) || r === 0n || r >= N || s === 0n || s > N >> 1n)
    return "signature_invalid";
  let pub: Uint8Array | null;
  try {
    pub = libsecp256k1.recover(personalMessageDigest(text), bytes.subarray(0, 64), recid, false);
  } catch {
    pub = null; // r is not the x of a curve point
  }
  if (!pub) return "signature_invalid";
  return addressOfPublicKey(pub) === expected ? "ok" : "signature_mismatch";
}

/** The verifier's answer; only a malformed signature (not hex, not 65 bytes) may throw, and only this. */
function answer(p: Parameters<typeof verifyResponseSignature>[0]): Outcome {
  try {
    const r = verifyResponseSignature(p);
    return r.ok ? "ok" : (r.reason as Outcome);
  } catch (e) {
    if (e instanceof InvalidInputError && e.field === "signature") return "invalid_input";
    throw e;
  }
}

/** `fn` with signatures recovered by `recovery`. */
function using<T>(recovery: Secp256k1Recovery, fn: () => T): T {
  const restore = useSecp256k1Recovery(recovery);
  try {
    return fn();
  } finally {
    restore();
  }
}
const libsecp256k1Recovery = secp256k1Recovery();
const wasmRecovery = loadWasmLibsecp256k1(createRequire(import.meta.url)) as Secp256k1Recovery;

/** A cache that already checked a signature of the enclave (with @noble/curves: its key precomputed). */
function warmCache() {
  const cache = createVerificationCache();
  const text = `${bytesToHex(sha256(enc("warm req")))}:${bytesToHex(sha256(enc("warm res")))}`;
  const first = verifyResponseSignature({
    requestBody: enc("warm req"),
    responseBody: enc("warm res"),
    signedText: text,
    signature: enclave.signPersonalMessage(text),
    expectedAddress: enclave.address,
    cache,
  });
  if (!first.ok) throw new Error("cache not warm");
  return cache;
}
const nobleCache = using(nobleRecovery, warmCache);
const libCache = warmCache();
const wasmCache = using(wasmRecovery, warmCache);

/** The six ways the verifier checks a signature. */
function answers(p: Parameters<typeof verifyResponseSignature>[0]) {
  return {
    libsecp256k1: answer(p),
    libsecp256k1Cached: answer({ ...p, cache: libCache }),
    wasm: using(wasmRecovery, () => answer(p)),
    wasmCached: using(wasmRecovery, () => answer({ ...p, cache: wasmCache })),
    noble: using(nobleRecovery, () => answer(p)),
    nobleKnownSigner: using(nobleRecovery, () => answer({ ...p, cache: nobleCache })),
  };
}

/** How a genuine signature (65 bytes) is changed: each is an attacker's try. */
const mutation = fc.oneof(
  fc.constant((b: Uint8Array) => b),
  fc.constant((b: Uint8Array) => {
    b[64] = (b[64] as number) === 27 ? 28 : (b[64] as number) === 28 ? 27 : (b[64] as number) ^ 1;
    return b; // other y parity: valid for another key
  }),
  fc.constantFrom(0, 1, 2, 3, 26, 29, 30, 31, 35, 36, 37, 38, 255).map((v) => (b: Uint8Array) => {
    b[64] = v; // v as 0/1, EIP-155 style, out of range
    return b;
  }),
  fc.boolean().map((flip) => (b: Uint8Array) => {
    b.set(int32(N - intOf(b.subarray(32, 64))), 32); // high-S twin (with or without the parity flip)
    if (flip) b[64] = (b[64] as number) ^ 1;
    return b;
  }),
  fc
    .tuple(
      fc.constantFrom(0, 32),
      fc.constantFrom(0n, 1n, N - 1n, N, N + 1n, N >> 1n, (N >> 1n) + 1n, 2n ** 256n - 1n),
    )
    .map(([at, x]) => (b: Uint8Array) => {
      b.set(int32(x), at); // r or s on and around the bounds
      return b;
    }),
  fc
    .tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 255 }))
    .map(([i, x]) => (b: Uint8Array) => {
      b[i] = (b[i] as number) ^ x; // any byte changed
      return b;
    }),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((x) => (b: Uint8Array) => {
    b.set(x, 0); // random r: often no point has it as x
    return b;
  }),
  fc.uint8Array({ minLength: 65, maxLength: 65 }).map((x) => () => x), // random bytes
);

/** How the signature is written: the hex forms a caller may send, and malformed ones. */
const spelling = fc.oneof(
  { weight: 6, arbitrary: fc.constant((h: string) => `0x${h}`) },
  fc.constant((h: string) => h),
  fc.constant((h: string) => `0X${h.toUpperCase()}`),
  fc.constant((h: string) => ` 0x${h.slice(0, 64)} ${h.slice(64)}\n`),
  fc.constant((h: string) => `0x${h.slice(0, -2)}`), // 64 bytes
  fc.constant((h: string) => `0x${h}00`), // 66 bytes
  fc.constant((h: string) => `0x${h.slice(1)}`), // odd length
  fc.constant((h: string) => `0x${h.slice(0, 10)}zz${h.slice(12)}`), // not hex
  fc.constant(() => ""),
);

const exchange = fc
  .tuple(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 1, maxLength: 64 }))
  .map(([req, res]) => {
    const requestBody = Uint8Array.of(1, ...req);
    const responseBody = res;
    return {
      requestBody,
      responseBody,
      signedText: `${bytesToHex(sha256(requestBody))}:${bytesToHex(sha256(responseBody))}`,
    };
  });

describe("enclave signature check: libsecp256k1 native and WASM, noble recovery and the known-signer shortcut agree", () => {
  it("Node uses libsecp256k1, and a warm @noble/curves cache knows the enclave's key", () => {
    expect(libsecp256k1Recovery.name).toBe("libsecp256k1 (native)");
    expect(wasmRecovery.name).toBe("libsecp256k1 (WASM)");
    expect(nobleCache.get("knownSigner", enclave.address)).toBeDefined();
  });

  it("on genuine, mutated, high-S, wrong-v, random and malformed signatures", () => {
    const seen = new Set<Outcome>();
    fc.assert(
      fc.property(
        exchange,
        fc.constantFrom(enclave, other),
        mutation,
        spelling,
        fc.constantFrom(enclave.address, other.address),
        (e, signer, mutate, spell, expected) => {
          const genuine = hexToBytes(signer.signPersonalMessage(e.signedText).slice(2));
          const signature = spell(bytesToHex(mutate(genuine)));
          const p = { ...e, signature, expectedAddress: expected };
          const want = oracle(e.signedText, signature, expected);
          seen.add(want);
          expect({ signature, expected, ...answers(p) }).toEqual({
            signature,
            expected,
            libsecp256k1: want,
            libsecp256k1Cached: want,
            wasm: want,
            wasmCached: want,
            noble: want,
            nobleKnownSigner: want,
          });
        },
      ),
      { numRuns: 400, seed: 14 },
    );
    expect([...seen].sort()).toEqual(["invalid_input", "ok", "signature_invalid", "signature_mismatch"]);
  });

  it("recovers the same key as libsecp256k1 for every signature that recovers", () => {
    fc.assert(
      fc.property(exchange, mutation, (e, mutate) => {
        const bytes = mutate(hexToBytes(enclave.signPersonalMessage(e.signedText).slice(2)));
        const signature = `0x${bytesToHex(bytes)}`;
        const p = { ...e, signature, expectedAddress: other.address };
        const r = verifyResponseSignature(p);
        const noble = using(nobleRecovery, () => verifyResponseSignature({ ...p, cache: nobleCache }));
        expect(noble).toEqual(r);
        expect(using(wasmRecovery, () => verifyResponseSignature(p))).toEqual(r);
        if (r.ok || r.reason !== "signature_mismatch") return;
        const v = bytes[64] as number;
        const lib = libsecp256k1.recover(
          personalMessageDigest(e.signedText),
          bytes.subarray(0, 64),
          (v >= 27 ? v - 27 : v) as 0 | 1,
          false,
        );
        expect(r.pubkey).toBe(`0x${bytesToHex(lib as Uint8Array)}`);
      }),
      { numRuns: 200, seed: 15 },
    );
  });

  it("a genuine signature with the other v is rejected on every path, warm cache or not", () => {
    const e = { requestBody: enc("a"), responseBody: enc("b") };
    const signedText = `${bytesToHex(sha256(e.requestBody))}:${bytesToHex(sha256(e.responseBody))}`;
    const sig = enclave.signPersonalMessage(signedText);
    const v = Number.parseInt(sig.slice(-2), 16);
    for (const flipped of [v === 27 ? 28 : 27, v === 27 ? 1 : 0]) {
      const signature = `${sig.slice(0, -2)}${flipped.toString(16).padStart(2, "0")}`;
      const p = { ...e, signedText, signature, expectedAddress: enclave.address };
      expect(oracle(signedText, signature, enclave.address)).toBe("signature_mismatch");
      expect(Object.values(answers(p))).toEqual(Array(6).fill("signature_mismatch"));
    }
  });
});
