import { describe, expect, it } from "vitest";
import {
  FailureReason,
  JobState,
  TaskType,
  VerificationMethod,
} from "./gen/chaoschain/zerog/v1/compute_pb.js";
import {
  failureReasonFromName,
  failureReasonName,
  isTerminalState,
  jobStateFromName,
  taskTypeFromName,
  verificationFromName,
  verificationOnChainName,
} from "./names.js";

describe("names", () => {
  it.each([
    ["inference", TaskType.INFERENCE],
    ["fine-tuning", TaskType.FINE_TUNING],
    ["fine_tuning", TaskType.FINE_TUNING],
    ["TASK_TYPE_TRAINING", TaskType.TRAINING],
    ["mining", undefined],
  ])("task type %s", (name, value) => expect(taskTypeFromName(name)).toBe(value));

  it.each([
    ["tee-ml", VerificationMethod.TEE_ML],
    ["TeeML", VerificationMethod.TEE_ML],
    ["zkml", VerificationMethod.ZK_ML],
    ["VERIFICATION_METHOD_OP_ML", VerificationMethod.OP_ML],
    ["trust-me", undefined],
  ])("verification %s", (name, value) => expect(verificationFromName(name)).toBe(value));

  it("maps to 0G's on-chain verifiability names", () => {
    expect(verificationOnChainName(VerificationMethod.TEE_ML)).toBe("TeeML");
    expect(verificationOnChainName(VerificationMethod.ZK_ML)).toBe("ZKML");
    expect(verificationOnChainName(VerificationMethod.OP_ML)).toBe("OpML");
  });

  it("failure reasons round-trip in snake_case", () => {
    for (const value of Object.values(FailureReason).filter((v) => typeof v === "number" && v !== 0)) {
      const name = failureReasonName(value as FailureReason);
      expect(name).toMatch(/^[a-z_]+$/);
      expect(failureReasonFromName(name!)).toBe(value);
    }
    expect(failureReasonFromName("FAILURE_REASON_PROOF_INVALID")).toBe(FailureReason.PROOF_INVALID);
  });

  it("knows the terminal states", () => {
    expect(jobStateFromName("running")).toBe(JobState.RUNNING);
    expect([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED].every(isTerminalState)).toBe(true);
    expect(isTerminalState(JobState.QUEUED)).toBe(false);
  });
});
