import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.js";

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      // Builds dist/ once so the spawn test can run the real bin (turbo's `test` only depends on ^build).
      globalSetup: ["./test/global-setup.ts"],
      testTimeout: 30_000,
    },
  }),
);
