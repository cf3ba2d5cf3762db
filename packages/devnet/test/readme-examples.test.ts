import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test, vi } from "vitest";

// Every README example that starts a devnet runs as printed (the package import points at the sources).
const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, "..", "README.md"), "utf8");
const examples = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((m) => m[1] ?? "")
  .filter((code) => code.includes("await startDevnet("));

test("the README has its examples", () => {
  expect(examples.length).toBeGreaterThanOrEqual(3);
});

test.each(examples.map((code, i) => [i, code] as const))("README example %i runs", async (i, code) => {
  vi.useRealTimers();
  const file = join(here, `.readme-example-${i}.ts`);
  await writeFile(file, code.replaceAll('"@chaoschain/zerog-devnet"', '"../src/index.js"'));
  const log = vi.spyOn(console, "log");
  try {
    await import(file);
  } finally {
    await rm(file, { force: true });
  }
  // What each example's comments say it prints.
  const printed = log.mock.calls;
  if (code.includes("uploadDatasetToTEE")) expect(printed).toContainEqual(["PK"]);
  else if (code.includes("devnet.pccs")) expect(printed).toContainEqual(["TDX", "B0C06F000000", 2]);
  else expect(printed).toContainEqual([true]);
});
