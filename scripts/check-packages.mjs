#!/usr/bin/env node
// Lints every published package as npm would ship it: publint --strict, and arethetypeswrong on
// the packed tarball (ESM-only packages: the CommonJS and node10 resolutions are documented, not
// required; see the adapter README, "CommonJS").
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { publishedPackages } from "./published.mjs";
import { root, toolEnv } from "./toolchain.mjs";

const env = toolEnv();
let failed = 0;
for (const { name, dir } of publishedPackages()) {
  for (const [tool, args] of [
    ["publint", ["--strict"]],
    ["attw", ["--pack", ".", "--profile", "esm-only", "--format", "table-flipped"]],
  ]) {
    const res = spawnSync("pnpm", ["exec", tool, ...args], { cwd: join(root, dir), env, encoding: "utf8" });
    const ok = res.status === 0;
    console.log(`${ok ? "ok  " : "FAIL"} ${tool} ${name}`);
    if (!ok) {
      failed++;
      console.log(`${res.stdout}${res.stderr}`);
    }
  }
}
process.exit(failed ? 1 : 0);
