import { ComputeService } from "@chaoschain/zerog-core";
import type { Interceptor } from "@connectrpc/connect";
import type { KeyLimits } from "../auth/api-keys.js";
import { anonymous, callerKey } from "../auth/call-gate.js";
import type { JobQuota } from "../limits/job-quota.js";

/**
 * The in-flight jobs quota on Submit: a caller with as many jobs queued or running as its
 * `maxJobsInFlight` (or the default) is refused `quota_exceeded` with a retry delay.
 */
export function createQuotaInterceptor(
  quota: JobQuota,
  defaults: KeyLimits,
  onRefused?: (callerId: string) => void,
): Interceptor {
  return (next) => async (req) => {
    if (req.service.typeName !== ComputeService.typeName || req.method.name !== "Submit") return next(req);
    const caller = req.contextValues.get(callerKey) ?? anonymous;
    const max = caller.maxJobsInFlight ?? defaults.maxJobsInFlight;
    if (max === undefined) return next(req);
    let ticket: Awaited<ReturnType<JobQuota["reserve"]>>;
    try {
      ticket = await quota.reserve(caller.id, max);
    } catch (err) {
      onRefused?.(caller.id);
      throw err;
    }
    try {
      const res = await next(req);
      if (!res.stream) ticket.keep((res.message as unknown as { jobId: string }).jobId);
      return res;
    } finally {
      ticket.release();
    }
  };
}
