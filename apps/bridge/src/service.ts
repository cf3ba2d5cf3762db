import { create } from "@bufbuild/protobuf";
import {
  CancelJobResponseSchema,
  type ComputeResult,
  type ComputeService,
  type ComputeTask,
  ComputeTaskSchema,
  type FieldViolation,
  failureReasonName,
  invalidArgument,
  isTerminalState,
  type Job,
  JobEventSchema,
  JobState,
  JobStateSchema,
  ListJobsResponseSchema,
  ListServicesResponseSchema,
  limits,
  SubmitResponseSchema,
  VerificationMethod,
  validateIdempotencyKey,
  validateTask,
  verificationName,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { ComputeBackend } from "./backend.js";
import type { JobEvents } from "./jobs/job-events.js";
import { type JobRecord, type JobStore, reaches, type Submitter } from "./jobs/job-store.js";
import { formatDuration } from "./jobs/retention.js";
import type { Worker } from "./jobs/worker.js";
import { acceptedEnumValues } from "./wire/enums.js";
import { quoteBounded } from "./wire/violations.js";

export interface ComputeServiceDeps {
  store: JobStore;
  events: JobEvents;
  worker: Worker;
  backend: ComputeBackend;
  /** GetResult wait when the request gives no timeout. */
  defaultWaitSeconds: number;
  /** Longest GetResult wait allowed. */
  maxWaitSeconds: number;
  /** How long ended jobs are kept before the retention deletes them, ms; 0 for ever. Default 0. */
  jobRetentionMs?: number | undefined;
  /** A Submit created `job` (before it may start): for what follows the job from its call, e.g. its trace. */
  onSubmitted?: ((job: Job, ctx: HandlerContext) => void) | undefined;
  /** Who makes a call (its key id and in-flight jobs quota), stored with the jobs it submits. */
  submitter?: ((ctx: HandlerContext) => Submitter) | undefined;
  /** A Submit was refused at its key's in-flight jobs quota. */
  onQuotaExceeded?: ((keyId: string) => void) | undefined;
  /**
   * The key id whose jobs a call reaches (with the jobs stored before key ids were), or undefined for
   * every job (no API keys, or an operator key). Another key's job is answered as an unknown id.
   * Absent: every call reaches every job.
   */
  jobsOf?: ((ctx: HandlerContext) => string | undefined) | undefined;
}

const defaultPageSize = 50;
const maxPageSize = 1000;
/** Longest job id accepted (ours are 31 bytes); a longer one is refused, never looked up or echoed. */
const maxJobIdBytes = 128;
/** Entries of ListJobs `states` (there are five states; repeats are dropped). */
const maxStates = 64;

function requireJobId(jobId: string): void {
  if (jobId.trim() === "") {
    throw invalidArgument([
      { field: "job_id", reason: "REQUIRED", description: "required: the id returned by Submit" },
    ]);
  }
  const bytes = Buffer.byteLength(jobId);
  if (bytes > maxJobIdBytes) {
    throw invalidArgument([
      {
        field: "job_id",
        reason: "OUT_OF_RANGE",
        description: `at most ${maxJobIdBytes} bytes, got ${bytes}: use the id returned by Submit`,
      },
    ]);
  }
  // No id holds one; Postgres refuses a NUL in text, which would answer INTERNAL.
  if (/\p{Cc}/u.test(jobId)) {
    throw invalidArgument([
      {
        field: "job_id",
        reason: "INVALID_VALUE",
        description: "control characters are not allowed: use the id returned by Submit",
      },
    ]);
  }
}

/** `retentionMs`: how long ended jobs are kept (0: for ever), to say that the job may have been deleted. */
function notFound(jobId: string, retentionMs: number): ZeroGError {
  const deleted =
    retentionMs > 0
      ? `: it was never submitted here, or it ended more than ${formatDuration(retentionMs)} ago and was deleted (the bridge's --job-retention)`
      : "";
  return new ZeroGError("job_not_found", `job ${quoteBounded(jobId)} not found${deleted}`);
}

function pageToken(seq: number): string {
  return Buffer.from(`v1:${seq}`).toString("base64url");
}

function parsePageToken(token: string): number | undefined {
  if (token === "") return undefined;
  const match = /^v1:(\d{1,16})$/.exec(Buffer.from(token, "base64url").toString());
  // A position past 2^53 is no job's (Postgres would refuse it as a bigint, answering INTERNAL).
  if (!match || !Number.isSafeInteger(Number(match[1]))) {
    throw invalidArgument([
      {
        field: "page_token",
        reason: "INVALID_VALUE",
        description: "not a token from a previous ListJobs response",
      },
    ]);
  }
  return Number(match[1]);
}

/** The task as stored: verification defaults to tee-ml. */
function normalizeTask(task: ComputeTask): ComputeTask {
  if (task.verification !== VerificationMethod.UNSPECIFIED) return task;
  return create(ComputeTaskSchema, { ...task, verification: VerificationMethod.TEE_ML });
}

/** The error for a GetResult or WatchJob cut short by a stop of the bridge. */
function stoppedWaiting(jobId: string): ZeroGError {
  return new ZeroGError(
    "shutting_down",
    `the bridge is stopping before job ${jobId} ended; the job resumes when the bridge starts again: ask again then`,
  );
}

/** The error for GetResult on a job that has ended without a result. */
function endedWithoutResult(job: Job): ZeroGError {
  const reason = job.error ? failureReasonName(job.error.reason) : undefined;
  if (job.state === JobState.CANCELLED) {
    return new ZeroGError(
      "job_cancelled",
      `job ${job.jobId} was cancelled: ${job.error?.message ?? ""}`.trim(),
    );
  }
  return new ZeroGError(
    "job_failed",
    `job ${job.jobId} failed (${reason ?? "unknown"}): ${job.error?.message ?? ""}`,
    {
      ...(reason ? { failureReason: reason } : {}),
    },
  );
}

/** `ComputeService` on top of the job store, the worker and a backend. */
export function createComputeService(deps: ComputeServiceDeps): ServiceImpl<typeof ComputeService> {
  const { store, events, worker, backend } = deps;
  const retentionMs = deps.jobRetentionMs ?? 0;

  /**
   * The job `jobId` if the caller reaches it. Another key's job takes the same path as an unknown id
   * (one read, then the same error): neither the answer nor its timing tells that the job exists.
   */
  async function record(jobId: string, ctx: HandlerContext): Promise<JobRecord> {
    requireJobId(jobId);
    const found = await store.get(jobId);
    if (!found || !reaches(deps.jobsOf?.(ctx), found)) throw notFound(jobId, retentionMs);
    return found;
  }

  return {
    async submit(req, ctx) {
      const violations: FieldViolation[] = [
        ...validateTask(req.task),
        ...validateIdempotencyKey(req.idempotencyKey),
      ];
      if (violations.length) throw invalidArgument(violations);
      const task = normalizeTask(req.task!);
      const refusal = await backend.check(task);
      if (refusal) throw new ZeroGError("unsupported_task", refusal);
      const submitter = deps.submitter?.(ctx);
      const { record: stored, created } = await store
        .insert(task, req.idempotencyKey, submitter)
        .catch((err: unknown) => {
          if (submitter && err instanceof ZeroGError && err.code === "quota_exceeded")
            deps.onQuotaExceeded?.(submitter.keyId);
          throw err;
        });
      if (created) {
        deps.onSubmitted?.(stored.job, ctx);
        worker.pump();
      }
      await store.durable();
      return create(SubmitResponseSchema, { jobId: stored.job.jobId });
    },

    async getJob(req, ctx) {
      const { job } = await record(req.jobId, ctx);
      await store.durable();
      return job;
    },

    async getResult(req, ctx) {
      let job = (await record(req.jobId, ctx)).job;
      let published: ComputeResult | undefined;
      if (isTerminalState(job.state)) await store.durable();
      if (job.state !== JobState.SUCCEEDED) {
        if (job.state === JobState.FAILED || job.state === JobState.CANCELLED) throw endedWithoutResult(job);
        if (!req.wait) {
          throw new ZeroGError(
            "job_not_finished",
            `job ${job.jobId} is ${job.state === JobState.QUEUED ? "queued" : "running"}; it has no result yet`,
          );
        }
        const seconds = Math.min(req.timeoutSeconds || deps.defaultWaitSeconds, deps.maxWaitSeconds);
        const ended = await events
          .waitForEnd(job.jobId, async () => (await store.get(job.jobId))?.job, seconds * 1000, ctx.signal)
          .catch(() => {
            // The client went away (nobody reads this) or the bridge is stopping.
            throw stoppedWaiting(job.jobId);
          });
        if (!ended) {
          throw new ZeroGError("wait_timeout", `job ${job.jobId} did not finish within ${seconds} s`);
        }
        ({ job, result: published } = ended);
        await store.durable();
        if (job.state !== JobState.SUCCEEDED) throw endedWithoutResult(job);
      }
      const result = published ?? (await store.result(job.jobId));
      if (!result) {
        // Deleted by the retention between the two reads.
        if (!(await store.get(job.jobId))) throw notFound(job.jobId, retentionMs);
        throw new ZeroGError("internal", `job ${job.jobId} succeeded but its result is missing`);
      }
      return result;
    },

    async *watchJob(req, ctx: HandlerContext) {
      const current = await record(req.jobId, ctx);
      let ended = false;
      for await (const event of events.watch(current, ctx.signal)) {
        ended = isTerminalState(event.job.state);
        if (ended) await store.durable();
        yield create(JobEventSchema, { job: event.job, outputDelta: event.outputDelta ?? "" });
      }
      // The stream stopped before the job ended (the bridge is stopping): an error, never a normal end
      // that a client would take for the job's.
      if (!ended) throw stoppedWaiting(current.job.jobId);
    },

    async cancelJob(req, ctx) {
      const found = await record(req.jobId, ctx);
      await worker.cancel(found.job.jobId);
      await store.durable();
      return create(CancelJobResponseSchema, { job: (await store.get(found.job.jobId))!.job });
    },

    async listJobs(req, ctx) {
      if (req.pageSize > maxPageSize) {
        throw invalidArgument([
          { field: "page_size", reason: "OUT_OF_RANGE", description: `at most ${maxPageSize}` },
        ]);
      }
      if (req.states.length > maxStates) {
        throw invalidArgument([
          {
            field: "states",
            reason: "OUT_OF_RANGE",
            description: `at most ${maxStates} entries, got ${req.states.length} (there are five states)`,
          },
        ]);
      }
      req.states.forEach((state, i) => {
        if (state === JobState.UNSPECIFIED || !Object.values(JobState).includes(state)) {
          throw invalidArgument([
            {
              field: `states[${i}]`,
              reason: "INVALID_VALUE",
              description: `not a job state; accepted: ${acceptedEnumValues(JobStateSchema)}`,
            },
          ]);
        }
      });
      const page = await store.list({
        states: [...new Set(req.states)],
        pageSize: req.pageSize || defaultPageSize,
        before: parsePageToken(req.pageToken),
        keyId: deps.jobsOf?.(ctx),
      });
      await store.durable();
      return create(ListJobsResponseSchema, {
        jobs: page.records.map((r) => r.job),
        nextPageToken: page.next === undefined ? "" : pageToken(page.next),
      });
    },

    async listServices(req) {
      if (req.model.length > limits.modelLength) {
        throw invalidArgument([
          { field: "model", reason: "OUT_OF_RANGE", description: `at most ${limits.modelLength} characters` },
        ]);
      }
      const verification = req.verification === VerificationMethod.UNSPECIFIED ? undefined : req.verification;
      if (verification !== undefined && !verificationName(verification)) {
        throw invalidArgument([
          { field: "verification", reason: "INVALID_VALUE", description: "unknown method" },
        ]);
      }
      if (req.serviceType.length > 64) {
        throw invalidArgument([
          { field: "service_type", reason: "OUT_OF_RANGE", description: "at most 64 characters" },
        ]);
      }
      const services = await backend.listServices({
        model: req.model || undefined,
        verification,
        serviceType: req.serviceType || undefined,
      });
      return create(ListServicesResponseSchema, { services });
    },
  };
}
