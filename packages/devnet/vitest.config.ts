import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.js";

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      environment: "node",
      // Each test file runs in its own child process: the 0G SDK leaves 300 s receipt-timeout timers
      // behind (see README "SDK timers"), which must not keep a shared worker alive.
      pool: "forks",
      testTimeout: 60_000,
      hookTimeout: 60_000,
      teardownTimeout: 10_000,
      silent: "passed-only",
    },
  }),
);
