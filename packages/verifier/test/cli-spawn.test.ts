import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// dist/ is built by test/global-setup.ts.
const root = fileURLToPath(new URL("..", import.meta.url));

describe("bin/zerog-verify.js (spawned)", () => {
  it("verifies the shared TDX vector: exit 0, --json report", () => {
    const r = spawnSync(
      process.execPath,
      [
        "bin/zerog-verify.js",
        "quote",
        "test/vectors/dcap/tdx_quote",
        "--collateral",
        "test/vectors/dcap/tdx_quote_collateral.json",
        "--now",
        "1751624191",
        "--json",
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, tcbStatus: "UpToDate", advisoryIds: [] });
  });
  it("exit 1 for an invalid quote and 2 for bad usage", () => {
    const args = [
      "bin/zerog-verify.js",
      "quote",
      "test/vectors/dcap/sgx_quote",
      "--collateral",
      "test/vectors/dcap/sgx_quote_collateral.json",
      "--now",
      "1751624924",
    ];
    const invalid = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" });
    expect(invalid.status).toBe(1);
    expect(invalid.stdout).toMatch(/tcb_status_not_allowed/);
    const usage = spawnSync(process.execPath, ["bin/zerog-verify.js", "quote"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(usage.status).toBe(2);
  });
  it("reads no more of an endless proof or quote file than its limit: exit 1, input_too_large", () => {
    // /dev/zero never ends: a whole-file read grew to 2 GiB before it failed (exit 2)
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ["bin/zerog-verify.js", ...args, "--now", "1751624191"], {
        cwd: root,
        encoding: "utf8",
        timeout: 60_000,
      });
    const proof = run("proof", "/dev/zero");
    expect(proof.stderr).toBe("");
    expect(proof.status).toBe(1);
    expect(proof.stdout).toMatch(/^INVALID proof: input_too_large: /);
    const quote = run("quote", "/dev/zero", "--collateral", "test/vectors/dcap/tdx_quote_collateral.json");
    expect(quote.stderr).toBe("");
    expect(quote.status).toBe(1);
    expect(quote.stdout).toMatch(/^INVALID quote: input_too_large: /);
  });
});
