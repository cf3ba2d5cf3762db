import { FailureReason } from "@chaoschain/zerog-core";
import { expect, it } from "vitest";
import { BackendError } from "./backend.js";

it("BackendError keeps reason and retryability", () => {
  const err = new BackendError(FailureReason.PROVIDER_UNAVAILABLE, "down", { retryable: true });
  expect(err.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
  expect(err.retryable).toBe(true);
  expect(new BackendError(FailureReason.INTERNAL, "x").retryable).toBe(false);
});
