#!/usr/bin/env node
// Runs every package's benchmark one after the other (turbo, no cache) and gathers their
// bench/RESULTS.md into BENCHMARKS.md at the repository root.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { root, toolEnv, turbo } from "./toolchain.mjs";

const benches = [
  { title: "Verifier: quotes and proofs on one core", dir: "packages/verifier" },
  { title: "Bridge: end-to-end jobs through the bridge and the devnet", dir: "apps/bridge" },
];
const run = turbo(["run", "bench", "--concurrency=1"], toolEnv());
const sections = benches.map(({ title, dir }) => {
  const file = join(root, dir, "bench", "RESULTS.md");
  const body = existsSync(file) ? readFileSync(file, "utf8").trim() : "_no results: the benchmark failed_";
  return `## ${title}\n\nSource: \`${dir}/bench/run.js\`.\n\n${body}\n`;
});
writeFileSync(
  join(root, "BENCHMARKS.md"),
  `# Benchmarks\n\nProduced by \`pnpm bench\` on the project's 2-core CI-class machine. Each table compares paths measured side by side in the same run; read the ratios, not the absolute numbers (the machine is shared and noisy).\n\n${sections.join("\n")}`,
);
process.exit(run.status ?? 1);
