#!/usr/bin/env node
// Makes a fresh clone runnable with nothing but Node and npm: installs the workspace with the
// pinned pnpm (through npx when pnpm is not installed) and builds every package. Quick when
// everything is already installed and built (pnpm and turbo skip what is up to date).
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.env.TURBO_TELEMETRY_DISABLED = "1";
const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager.split("@")[1];
const [major] = process.versions.node.split(".").map(Number);
if (major < 20) {
  console.error(`zerog-compute needs Node.js 20 or newer; this is ${process.version}.`);
  process.exit(1);
}

function pnpmCommand() {
  try {
    if (execFileSync("pnpm", ["--version"], { encoding: "utf8" }).trim() === pinned) return ["pnpm"];
  } catch {}
  return ["npx", "--yes", `pnpm@${pinned}`];
}

function run(cmd, args) {
  const res = spawnSync(cmd, args, {
    cwd: root,
    stdio: "inherit",
    env: {
      ...process.env,
      npm_config_nodedir: process.env.npm_config_nodedir ?? dirname(dirname(process.execPath)),
    },
  });
  if (res.status !== 0) process.exit(res.status ?? 1);
}

const [pnpm, ...pre] = pnpmCommand();
run(pnpm, [...pre, "install", "--frozen-lockfile", "--reporter=append-only"]);
run(join(root, "node_modules", ".bin", "turbo"), ["run", "build", "--output-logs=errors-only"]);
