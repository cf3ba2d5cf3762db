import { FailureReason } from "@chaoschain/zerog-core";
import { BackendError, type JobCheckpoint } from "../backend.js";

/**
 * The checkpoint an inference job stores, durably, just before its request leaves for a provider: from
 * then on the provider may run it and charge for it, whatever happens to this bridge.
 */
export function inferenceSent(provider: string): JobCheckpoint {
  return { kind: "inference", provider, sentAt: Date.now() };
}

/**
 * The attempt policy for inference: a job whose previous attempt may have reached a provider (its
 * checkpoint says the request was sent, and no answer was stored) is not sent again, since the provider
 * may have charged for it; it fails `interrupted`, saying so. Undefined when the job may run.
 */
export function resendRefusal(resumeFrom: JobCheckpoint | undefined): BackendError | undefined {
  if (resumeFrom?.kind !== "inference" || typeof resumeFrom.provider !== "string") return undefined;
  const sentAt =
    typeof resumeFrom.sentAt === "number" ? ` at ${new Date(resumeFrom.sentAt).toISOString()}` : "";
  return new BackendError(
    FailureReason.INTERRUPTED,
    `the bridge running this job stopped after sending its request to provider ${resumeFrom.provider}${sentAt}, ` +
      "before the answer was stored; the request is not sent again: the provider may have charged for it. " +
      "Submit the task again to run it anew",
  );
}
