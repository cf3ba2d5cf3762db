#!/usr/bin/env node
// Assembles the bridge for production into one folder (what the Dockerfile's runtime image holds):
// `pnpm deploy --prod` of @chaoschain/zerog-bridge (its built dist, its production dependencies,
// the workspace's core, verifier and adapter; no devnet, no test tools), minus build leftovers.
// Usage: node scripts/assemble-bridge.mjs <out-dir>   (after `pnpm install` and the build)
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { root } from "./toolchain.mjs";

const out = process.argv[2];
if (!out) {
  console.error("usage: node scripts/assemble-bridge.mjs <out-dir>");
  process.exit(2);
}
const target = resolve(out);
if (existsSync(target) && readdirSync(target).length > 0) {
  console.error(`${target} is not empty`);
  process.exit(2);
}
// --legacy: pnpm 10 deploys injected workspace packages only otherwise (a workspace-wide setting).
const res = spawnSync(
  "pnpm",
  ["--filter", "@chaoschain/zerog-bridge", "deploy", "--legacy", "--prod", "--prefer-offline", target],
  { cwd: root, stdio: ["ignore", "inherit", "inherit"] },
);
if (res.status !== 0) process.exit(res.status ?? 1);

// better-sqlite3's compile intermediates and sources: only build/Release/better_sqlite3.node is loaded.
const pnpmDir = join(target, "node_modules", ".pnpm");
for (const entry of existsSync(pnpmDir) ? readdirSync(pnpmDir) : []) {
  if (!entry.startsWith("better-sqlite3@")) continue;
  const pkg = join(pnpmDir, entry, "node_modules", "better-sqlite3");
  for (const leftover of [
    "deps",
    "src",
    "build/Release/obj",
    "build/Release/obj.target",
    "build/Release/.deps",
    "build/deps",
  ])
    rmSync(join(pkg, leftover), { recursive: true, force: true });
  for (const file of existsSync(join(pkg, "build/Release")) ? readdirSync(join(pkg, "build/Release")) : [])
    if (file !== "better_sqlite3.node")
      rmSync(join(pkg, "build/Release", file), { recursive: true, force: true });
}
// secp256k1 (the verifier's optional libsecp256k1 addon) loads its prebuilt binary: its C sources are
// only for a platform without one, and the runtime image has no compiler (the WASM build is used there).
for (const entry of existsSync(pnpmDir) ? readdirSync(pnpmDir) : []) {
  if (entry.startsWith("secp256k1@"))
    rmSync(join(pnpmDir, entry, "node_modules", "secp256k1", "src"), { recursive: true, force: true });
}
console.error(`assembled the bridge in ${target}`);
