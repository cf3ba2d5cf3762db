import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { describe, expect, it } from "vitest";
import { loadLibsecp256k1, nobleRecovery, secp256k1Recovery } from "./secp256k1.js";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("../..", import.meta.url));

describe("secp256k1 recovery", () => {
  it("is libsecp256k1 in Node, recovering what @noble/curves recovers", () => {
    const lib = secp256k1Recovery();
    expect(lib.name).toBe("libsecp256k1");
    for (let i = 0; i < 8; i++) {
      const key = secp256k1.utils.randomSecretKey();
      const digest = keccak_256(Uint8Array.of(i));
      const sig = secp256k1.sign(digest, key, { prehash: false, format: "recovered", lowS: true });
      const recid = sig[0] as 0 | 1;
      const rs = sig.subarray(1);
      expect(lib.recover(digest, rs, recid)).toEqual(secp256k1.getPublicKey(key, false));
      expect(nobleRecovery.recover(digest, rs, recid)).toEqual(secp256k1.getPublicKey(key, false));
    }
  });

  it("is not used when it cannot be loaded or fails its self-test, and says why", () => {
    expect(loadLibsecp256k1(undefined)).toEqual(new Error("not running in Node"));
    const missing = loadLibsecp256k1(() => {
      throw new Error("Cannot find module 'tiny-secp256k1'");
    });
    expect(missing).toEqual(new Error("Cannot find module 'tiny-secp256k1'"));
    const lying = loadLibsecp256k1(() => ({ recover: () => new Uint8Array(65) }));
    expect(lying).toEqual(new Error("it fails its self-test"));
    const nothing = loadLibsecp256k1(() => ({ recover: () => null }));
    expect(nothing).toEqual(new Error("it fails its self-test"));
    expect(loadLibsecp256k1(require)).toMatchObject({ name: "libsecp256k1" });
  });

  it("falls back to @noble/curves in a Node without WASM (--jitless), with a warning, and still verifies", () => {
    // Private key 1 signs "hello" (EIP-191): its address is 0x7E5F…5Bdf.
    const script = `
      import { recoverPersonalSigner } from "./dist/index.js";
      import { secp256k1Recovery } from "./dist/internal/secp256k1.js";
      const sig = ${JSON.stringify(helloSignature())};
      console.log(JSON.stringify({ name: secp256k1Recovery().name, signer: recoverPersonalSigner("hello", sig)?.address }));
    `;
    const r = spawnSync(process.execPath, ["--jitless", "--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      name: "@noble/curves",
      signer: "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf",
    });
    expect(r.stderr).toContain("[ZEROG_VERIFIER_SECP256K1_FALLBACK]");
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
