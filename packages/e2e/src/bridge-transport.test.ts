import { ZeroGComputeAdapter, ZeroGError } from "@chaoschain/zerog-adapter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.js";

/** The adapter's transport against a bridge process: a request too large, and what follows it. */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const huge = {
  task_type: "inference",
  model: "llama-3-8b",
  inputs: { messages: Array.from({ length: 11 }, () => ({ role: "user", content: "x".repeat(1_000_000) })) },
};

describe("a request over 10 MB to the bridge", () => {
  it("is refused up front with a clear error, without a call", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: stack.grpcUrl });
    const err = await zerog.submit(huge).catch((e: unknown) => e);
    zerog.close();
    expect(err).toBeInstanceOf(ZeroGError);
    expect((err as ZeroGError).code).toBe("invalid_argument");
    expect((err as ZeroGError).violations[0]).toMatchObject({ field: "task", reason: "OUT_OF_RANGE" });
  });

  it("sent anyway, fails without poisoning the connection: every later call works", async () => {
    const zerog = new ZeroGComputeAdapter({
      grpcUrl: stack.grpcUrl,
      maxRequestBytes: 64 << 20,
      timeoutSeconds: 60,
    });
    try {
      const err = await zerog.submit(huge).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ZeroGError);
      expect((err as ZeroGError).code).not.toBe("internal");
      expect((err as ZeroGError).message).not.toMatch(/bug in the bridge/);
      for (let i = 0; i < 3; i++) {
        const result = await zerog.inference("llama-3-8b", `after the big one, ${i}`);
        expect(result.success && result.output).toBe(`llama-3-8b (0G devnet) heard: after the big one, ${i}`);
      }
    } finally {
      zerog.close();
    }
  });
});
