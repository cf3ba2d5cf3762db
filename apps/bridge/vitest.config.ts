import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.js";

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      // Each file starts its own devnet (a local EVM and provider simulators): one file at a time.
      pool: "forks",
      fileParallelism: false,
      testTimeout: 60_000,
      hookTimeout: 120_000,
      teardownTimeout: 10_000,
      // The 0G SDK prints every transaction with console.log; show console output of failed tests only.
      silent: "passed-only",
    },
  }),
);
