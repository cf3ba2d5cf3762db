#!/usr/bin/env node
// Runs every package's tests through turbo (each writes a vitest JSON report), then prints one
// line summed over all packages: `N passed, M failed[, K skipped]`. Exits non-zero on any failure.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { root, turbo as runTurbo, toolEnv } from "./toolchain.mjs";

const packages = ["packages", "apps"].flatMap((dir) =>
  readdirSync(join(root, dir), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, dir, d.name, "package.json")))
    .map((d) => join(root, dir, d.name)),
);
const report = (pkg) => join(pkg, "test-results", "vitest.json");
for (const pkg of packages) rmSync(report(pkg), { force: true });

const turbo = runTurbo(["run", "test", "--continue", "--concurrency=1", ...process.argv.slice(2)], toolEnv());

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const pkg of packages) {
  const manifest = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
  if (!manifest.scripts?.test) continue;
  if (!existsSync(report(pkg))) {
    missing.push(manifest.name);
    continue;
  }
  const r = JSON.parse(readFileSync(report(pkg), "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
  // A test file that fails to load counts as a failure even when no test in it ran.
  failed += r.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0).length;
}
if (missing.length) {
  console.error(`no test report from: ${missing.join(", ")}`);
  failed += missing.length;
}
if (turbo.status !== 0 && failed === 0) {
  console.error("a test task failed outside any test (see its output above)");
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(turbo.status !== 0 || failed > 0 ? 1 : 0);
