import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.js";

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      // Each file starts a devnet and a bridge process: one file at a time on a 2-core machine.
      pool: "forks",
      fileParallelism: false,
      testTimeout: 120_000,
      hookTimeout: 180_000,
      teardownTimeout: 20_000,
      // @chaoschain/sdk prints a banner per call with console.log; show it for failed tests only.
      silent: "passed-only",
    },
  }),
);
