#!/usr/bin/env node
// Fails when a change to a published package ships without a changeset naming that package.
// Usage: node scripts/check-changesets.mjs [<base-ref>]   (default: HEAD~1, what CI compares)
// The change is <base>...HEAD plus uncommitted files.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { publishedPackages, ships } from "./published.mjs";
import { root } from "./toolchain.mjs";

const base = process.argv[2] ?? "HEAD~1";
const git = (...args) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
const changed = [
  ...new Set(
    [
      git("diff", "--name-only", `${base}...HEAD`),
      git("diff", "--name-only", "HEAD"),
      git("ls-files", "--others", "--exclude-standard"),
    ]
      .join("\n")
      .split("\n")
      .filter(Boolean),
  ),
];
const named = new Set();
for (const file of changed.filter((f) => /^\.changeset\/[^/]+\.md$/.test(f) && !f.endsWith("README.md"))) {
  if (!existsSync(join(root, file))) continue;
  const front = /^---\n([\s\S]*?)\n---/.exec(readFileSync(join(root, file), "utf8"))?.[1] ?? "";
  for (const m of front.matchAll(/^\s*["']?([^"':\s]+)["']?\s*:\s*(major|minor|patch)\s*$/gm))
    named.add(m[1]);
}
const missing = publishedPackages().filter(
  ({ name, dir }) => !named.has(name) && changed.some((f) => f.startsWith(`${dir}/`) && ships(f)),
);
if (missing.length) {
  for (const { name, dir } of missing) {
    const files = changed.filter((f) => f.startsWith(`${dir}/`) && ships(f));
    console.error(
      `${name} changed (${files.slice(0, 5).join(", ")}${files.length > 5 ? ", …" : ""}) without a changeset`,
    );
  }
  console.error(
    "Run `pnpm changeset`, pick the packages and the bump, describe the change for users, and commit it.",
  );
  process.exit(1);
}
console.log(
  `changesets: ok (${named.size ? [...named].join(", ") : "no published package changed"} since ${base})`,
);
