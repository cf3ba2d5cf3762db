// The setup steps shared by `npm start`, `npm test` and `npm run bench`: install the workspace with
// the pinned pnpm, then build every package. Quick when everything is installed and built already.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { root, toolEnv } from "./toolchain.mjs";

/**
 * Runs install and build. With `quiet`, each step prints one progress line and its tool output is
 * shown only when it fails; otherwise the tools print as they go. Returns an exit code.
 */
export function setup({ quiet = false } = {}) {
  const [major] = process.versions.node.split(".").map(Number);
  if (major < 20) {
    console.error(`zerog-compute needs Node.js 20 or newer; this is ${process.version}.`);
    return 1;
  }
  const env = toolEnv();
  const steps = [
    ["installing dependencies", "pnpm", ["install", "--frozen-lockfile", "--reporter=append-only"]],
    [
      "building packages",
      join(root, "node_modules", ".bin", "turbo"),
      ["run", "build", "--output-logs=errors-only"],
    ],
  ];
  for (const [i, [title, cmd, args]] of steps.entries()) {
    const started = Date.now();
    if (quiet) process.stderr.write(`[${i + 1}/${steps.length}] ${title}… `);
    const res = spawnSync(cmd, args, { cwd: root, env, stdio: quiet ? "pipe" : "inherit", encoding: "utf8" });
    if (res.status !== 0) {
      if (quiet) process.stderr.write(`failed\n${res.stdout ?? ""}${res.stderr ?? ""}\n`);
      if (res.error) console.error(`${cmd}: ${res.error.message}`);
      return res.status ?? 1;
    }
    if (quiet) process.stderr.write(`done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  }
  return 0;
}
