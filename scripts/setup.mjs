#!/usr/bin/env node
// Makes a fresh clone runnable with nothing but Node and npm: installs the workspace with the
// pinned pnpm and builds every package. Quick when everything is installed and built already.
import { spawnSync } from "node:child_process";
import { root, toolEnv, turbo } from "./toolchain.mjs";

const [major] = process.versions.node.split(".").map(Number);
if (major < 20) {
  console.error(`zerog-compute needs Node.js 20 or newer; this is ${process.version}.`);
  process.exit(1);
}
const env = toolEnv();
const install = spawnSync("pnpm", ["install", "--frozen-lockfile", "--reporter=append-only"], {
  cwd: root,
  stdio: "inherit",
  env,
});
if (install.status !== 0) process.exit(install.status ?? 1);
const build = turbo(["run", "build", "--output-logs=errors-only"], env);
process.exit(build.status ?? 1);
