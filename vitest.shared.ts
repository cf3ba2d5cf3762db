import { defineConfig } from "vitest/config";

/**
 * Settings every package's vitest config extends: tests beside the code and in test/, and a JSON
 * report that scripts/run-tests.mjs sums over all packages.
 */
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
  },
});
