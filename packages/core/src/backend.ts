import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  BridgeChecksSchema,
  ComputeProof,
  ComputeTask,
  Service,
  Usage,
} from "./gen/chaoschain/zerog/v1/compute_pb.js";

/** Which services a caller wants; empty fields match everything. */
export interface ServiceFilter {
  model?: string | undefined;
  verification?: ComputeTask["verification"] | undefined;
}

/** What a backend reports while a job runs. */
export interface BackendEvents {
  /** A provider was chosen (or replaced after a failover). */
  onProvider?(providerAddress: string): void;
  /** Fraction done, 0 to 1. */
  onProgress?(progress: number): void;
  /** Streamed output text as it arrives. */
  onOutputDelta?(delta: string): void;
}

export interface BackendSubmitOptions extends BackendEvents {
  /** The bridge's job id, for logs and provider-side correlation. */
  jobId: string;
  /** Aborted when the job is cancelled or the bridge shuts down. */
  signal: AbortSignal;
}

/**
 * A backend's handle on a job it started. It is stored with the job, so it must be a plain
 * string that stays meaningful across bridge restarts where the backend supports resuming.
 */
export type BackendJobRef = string;

export type BackendJobStatus =
  | { state: "running"; progress: number }
  | { state: "succeeded" }
  | { state: "failed"; error: Error }
  /** The backend no longer knows the job (e.g. the bridge restarted mid-request). */
  | { state: "unknown" };

/** A finished job: the verified output and everything needed to check it again offline. */
export interface BackendJobResult {
  output: string;
  proof: ComputeProof;
  usage: Usage;
  providerAddress: string;
  /** What the backend checked before keeping the result (`ComputeResult.bridge_checks`). */
  bridgeChecks?: MessageInitShape<typeof BridgeChecksSchema> | undefined;
}

/**
 * Runs tasks somewhere: the bridge's worker talks only to this interface.
 * Implementations throw {@link BackendError} to fail a job with a machine-readable reason.
 */
export interface ComputeBackend {
  /** Short name for logs, e.g. "0g-devnet". */
  readonly name: string;
  /** Services on offer, filtered. */
  listServices(filter?: ServiceFilter): Promise<Service[]>;
  /**
   * Refuses, before the job is stored, a task this backend can never run (returns what to change),
   * e.g. a verification mode no provider offers.
   */
  check(task: ComputeTask): Promise<string | undefined>;
  /** Starts a task and returns a handle to it. */
  submit(task: ComputeTask, options: BackendSubmitOptions): Promise<BackendJobRef>;
  /** Where a started job is. */
  status(ref: BackendJobRef): Promise<BackendJobStatus>;
  /** Waits for the job's result; throws {@link BackendError} when it fails. */
  result(ref: BackendJobRef, options: { signal: AbortSignal }): Promise<BackendJobResult>;
  /** Stops a started job; a no-op when it has ended. */
  cancel(ref: BackendJobRef): Promise<void>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
