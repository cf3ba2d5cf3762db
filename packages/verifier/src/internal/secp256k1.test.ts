import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { describe, expect, it } from "vitest";
import {
  loadNativeLibsecp256k1,
  loadWasmLibsecp256k1,
  nobleRecovery,
  type Secp256k1Recovery,
  secp256k1Recovery,
} from "./secp256k1.js";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("../..", import.meta.url));

describe("secp256k1 recovery", () => {
  it("is libsecp256k1's native addon in Node, recovering what its WASM build and @noble/curves recover", () => {
    const lib = secp256k1Recovery();
    expect(lib.name).toBe("libsecp256k1 (native)");
    const wasm = loadWasmLibsecp256k1(require) as Secp256k1Recovery;
    expect(wasm.name).toBe("libsecp256k1 (WASM)");
    for (let i = 0; i < 8; i++) {
      const key = secp256k1.utils.randomSecretKey();
      const digest = keccak_256(Uint8Array.of(i));
      const sig = secp256k1.sign(digest, key, { prehash: false, format: "recovered", lowS: true });
      const recid = sig[0] as 0 | 1;
      const rs = sig.subarray(1);
      for (const recovery of [lib, wasm, nobleRecovery])
        expect(recovery.recover(digest, rs, recid)).toEqual(secp256k1.getPublicKey(key, false));
    }
  });

  it.each([
    ["native", loadNativeLibsecp256k1, "secp256k1/bindings"],
    ["WASM", loadWasmLibsecp256k1, "tiny-secp256k1"],
  ] as const)(
    "%s: is not used when it cannot be loaded or fails its self-test, and says why",
    (_, load, id) => {
      expect(load(undefined)).toEqual(new Error("not running in Node"));
      const missing = load(() => {
        throw new Error(`Cannot find module '${id}'`);
      });
      expect(missing).toEqual(new Error(`Cannot find module '${id}'`));
      const liar = new Uint8Array(65);
      expect(load(() => ({ recover: () => liar, ecdsaRecover: () => liar }))).toEqual(
        new Error("it fails its self-test"),
      );
      expect(load(() => ({ recover: () => null, ecdsaRecover: () => null }))).toEqual(
        new Error("it fails its self-test"),
      );
      const throwing = () => {
        throw new Error("Public key could not be recover");
      };
      expect(load(() => ({ recover: throwing, ecdsaRecover: throwing }))).toEqual(
        new Error("Public key could not be recover"),
      );
      expect(load(require)).toMatchObject({ name: `libsecp256k1 (${_})` });
    },
  );

  it("a recovery that throws on an input answers undefined (r not the x of a curve point)", () => {
    const noPoint = new Uint8Array(64);
    noPoint[31] = 5; // r = 5: no curve point has x = 5
    noPoint[63] = 1;
    for (const recovery of [
      secp256k1Recovery(),
      loadWasmLibsecp256k1(require) as Secp256k1Recovery,
      nobleRecovery,
    ])
      expect(recovery.recover(new Uint8Array(32).fill(1), noPoint, 0)).toBeUndefined();
  });

  const script = `
      import { recoverPersonalSigner } from "./dist/index.js";
      import { secp256k1Recovery } from "./dist/internal/secp256k1.js";
      const sig = ${JSON.stringify(helloSignature())};
      console.log(JSON.stringify({ name: secp256k1Recovery().name, signer: recoverPersonalSigner("hello", sig)?.address }));
    `;
  const run = (...flags: string[]) =>
    spawnSync(process.execPath, [...flags, "--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
    });

  it("uses the WASM build in a Node that loads no addons (--no-addons), without a warning", () => {
    const r = run("--no-addons");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      name: "libsecp256k1 (WASM)",
      signer: "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf",
    });
    expect(r.stderr).not.toContain("ZEROG_VERIFIER_SECP256K1_FALLBACK");
  });

  it("falls back to @noble/curves in a Node without addons or WASM (--no-addons --jitless), with a warning, and still verifies", () => {
    // Private key 1 signs "hello" (EIP-191): its address is 0x7E5F…5Bdf.
    const r = run("--no-addons", "--jitless");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      name: "@noble/curves",
      signer: "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf",
    });
    expect(r.stderr).toContain("[ZEROG_VERIFIER_SECP256K1_FALLBACK]");
    expect(r.stderr).toMatch(/native, secp256k1: .*addons.*; WASM, tiny-secp256k1: /);
    expect(r.stderr).toContain("enclave signatures are checked with @noble/curves instead");
  });
});

function helloSignature(): string {
  const d = new Uint8Array(32);
  d[31] = 1;
  const msg = new TextEncoder().encode("hello");
  const digest = keccak_256(
    new Uint8Array([...new TextEncoder().encode("\x19Ethereum Signed Message:\n5"), ...msg]),
  );
  const rec = secp256k1.sign(digest, d, { prehash: false, format: "recovered" });
  return `0x${Buffer.from(rec.subarray(1)).toString("hex")}${((rec[0] as number) + 27).toString(16)}`;
}
