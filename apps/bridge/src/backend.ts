import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  BridgeChecksSchema,
  ComputeProof,
  ComputeTask,
  FailureReason,
  Service,
  Usage,
  VerificationMethod,
} from "@chaoschain/zerog-core";

/** Which services a caller wants; empty fields match everything. */
export interface ServiceFilter {
  model?: string | undefined;
  verification?: VerificationMethod | undefined;
  /** "chatbot", "fine-tuning", …; undefined: the inference services. */
  serviceType?: string | undefined;
}

/** A finished job: the verified output and everything needed to check it again offline. */
export interface BackendJobResult {
  output: string;
  proof: ComputeProof;
  usage: Usage;
  providerAddress: string;
  /** What the backend checked before keeping the result (`ComputeResult.bridge_checks`). */
  bridgeChecks?: MessageInitShape<typeof BridgeChecksSchema> | undefined;
}

/** What a running job reports; each field given replaces the job's, the others stay. */
export interface JobProgressUpdate {
  /** Fraction done, 0 to 1. */
  progress?: number | undefined;
  /** The provider's own state name for long jobs ("Training"); empty for inference. */
  stage?: string | undefined;
  /** One human-readable sentence ("training, step 2 of 4"). */
  message?: string | undefined;
  /** The provider chosen (or chosen again after a failover). */
  provider?: string | undefined;
}

/** Why a job's signal aborted: the client cancelled it, or the bridge is stopping (it resumes later). */
export type StopReason = "cancelled" | "shutdown";

/** A backend's durable state for one job: plain JSON, written with the job. */
export type JobCheckpoint = Readonly<Record<string, unknown>>;

/** What the worker gives a backend for one run of one job. */
export interface RunContext {
  readonly jobId: string;
  /** Aborts with a {@link StopReason}. */
  readonly signal: AbortSignal;
  progress(update: JobProgressUpdate): void;
  /** Streamed output text as it arrives (streamed inference). */
  outputDelta(delta: string): void;
  /**
   * Stores `state` durably with the job (on disk when it resolves); a restarted bridge passes the last one
   * back as `resumeFrom`. Waits while the store cannot be written; rejects only when `signal` aborts.
   */
  checkpoint(state: JobCheckpoint): Promise<void>;
  /** The last checkpoint of a previous run of this job (after a bridge restart); undefined on a first run. */
  readonly resumeFrom: JobCheckpoint | undefined;
}

/**
 * Runs tasks somewhere: the bridge's worker talks only to this interface. `run` resolves with the result
 * or throws {@link BackendError} to fail the job with a machine-readable reason; when the signal aborts it
 * rejects with the signal's reason. A backend that can resume checkpoints its progress and reads
 * `resumeFrom`; one that cannot simply runs the task again.
 */
export interface ComputeBackend {
  /** Short name for logs, e.g. "0g-devnet". */
  readonly name: string;
  /** Services on offer, filtered. */
  listServices(filter?: ServiceFilter): Promise<Service[]>;
  /**
   * Refuses, before the job is stored, a task this backend can never run: returns what to change (a
   * FAILED_PRECONDITION for the client), or throws an `invalid_argument` ZeroGError naming bad fields.
   */
  check(task: ComputeTask): Promise<string | undefined>;
  /** Runs (or resumes) one job to its result. */
  run(task: ComputeTask, ctx: RunContext): Promise<BackendJobResult>;
  /** Stops running jobs (their signals abort with "shutdown") and releases connections and timers. */
  close(): Promise<void>;
}

/**
 * A job failure with a `FailureReason`: what backends throw. `message` is shown to the caller, so it must
 * say what to do and must not contain secrets.
 */
export class BackendError extends Error {
  override name = "BackendError";
  readonly reason: FailureReason;
  /** Whether another attempt (on another provider, or later) may succeed. */
  readonly retryable: boolean;
  constructor(
    reason: FailureReason,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.retryable = options.retryable ?? false;
  }
}
