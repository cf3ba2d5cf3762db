// Finds the pinned pnpm, or installs it into .tools/ (no global write needed), and returns the
// environment every script runs its tools with: pnpm on PATH (turbo needs it), no turbo telemetry.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager.split("@")[1];
const localBin = join(root, ".tools", "pnpm", "node_modules", ".bin");

function pnpmVersion(env) {
  try {
    return execFileSync("pnpm", ["--version"], {
      encoding: "utf8",
      env,
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return undefined;
  }
}

export function toolEnv() {
  const env = {
    ...process.env,
    PATH: `${localBin}${delimiter}${process.env.PATH}`,
    TURBO_TELEMETRY_DISABLED: "1",
    // better-sqlite3 builds from source: node-gyp takes Node's own headers instead of downloading them.
    npm_config_nodedir: process.env.npm_config_nodedir ?? dirname(dirname(process.execPath)),
  };
  if (pnpmVersion(env) === pinned) return env;
  console.error(`installing pnpm ${pinned} into .tools/pnpm`);
  const res = spawnSync(
    "npm",
    ["install", "--prefix", join(root, ".tools", "pnpm"), "--no-audit", "--no-fund", `pnpm@${pinned}`],
    { stdio: "inherit", env },
  );
  if (res.status !== 0 || pnpmVersion(env) !== pinned) {
    console.error(`could not install pnpm ${pinned}; install it with: npm i -g pnpm@${pinned}`);
    process.exit(1);
  }
  return env;
}

export function turbo(args, env) {
  return spawnSync(join(root, "node_modules", ".bin", "turbo"), args, { cwd: root, stdio: "inherit", env });
}
