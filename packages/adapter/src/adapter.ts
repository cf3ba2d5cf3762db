import { create } from "@bufbuild/protobuf";
import {
  ComputeService,
  type ComputeTask,
  fromConnectError,
  invalidArgument,
  type JobStateName,
  jobStateFromName,
  parseTask,
  type Service,
  type ServiceFilter,
  SubmitRequestSchema,
  type TaskInput,
  type VerificationName,
  verificationFromName,
  ZeroGError,
} from "@chaoschain/zerog-core";
import {
  type Collateral,
  type CollateralSource,
  createVerificationCache,
  type PolicyInput,
  type VerifyProofReturnType,
  verifyProof,
} from "@chaoschain/zerog-verifier";
import {
  type CallOptions,
  type Client,
  ConnectError,
  createClient,
  type Interceptor,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { type ResolvedAdapterConfig, resolveConfig, type ZeroGComputeAdapterOptions } from "./config.js";
import { type JobResult, type JobStatus, jobResult, jobStatus } from "./views.js";

export interface SubmitOptions {
  /** Submitting again with the same key returns the first job instead of creating another. */
  idempotencyKey?: string | undefined;
}

export interface ResultOptions {
  /** Wait for the job to end. Default true. */
  wait?: boolean | undefined;
  /** Longest wait, seconds. Default: the adapter's timeoutSeconds. */
  timeoutS?: number | undefined;
}

/** One event of {@link ZeroGComputeAdapter.watch}. */
export interface JobUpdate {
  status: JobStatus;
  /** Streamed output text since the previous update (streamed inference only). */
  outputDelta: string;
}

export interface VerifyOptions {
  /** What to trust and require; default: the verifier's `defaultPolicy` (Intel root, UpToDate TCB). */
  policy?: PolicyInput | undefined;
  /** Intel DCAP collateral for the proof's quote: an object, JSON text, or a fetcher with a cache. */
  collateral: Collateral | string | CollateralSource;
  /** Verification time, unix seconds. Default: now. */
  now?: number | undefined;
}

export interface ListJobsOptions {
  states?: JobStateName[] | undefined;
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

/** Whether `url` names this host (localhost, 127.0.0.0/8, ::1). */
function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Client of the ChaosChain 0G compute bridge: submit AI tasks, follow them, and get each output
 * with a proof that can be verified offline.
 *
 * @example
 * const zerog = new ZeroGComputeAdapter({ grpcUrl: "localhost:50051" });
 * const jobId = await zerog.submit({
 *   task_type: "inference",
 *   model: "llama-3-8b",
 *   inputs: { prompt: "What is blockchain?" },
 *   verification: "tee-ml",
 * });
 * const { output, proof } = await zerog.result(jobId, { wait: true, timeoutS: 600 });
 * zerog.close();
 */
export class ZeroGComputeAdapter {
  readonly config: ResolvedAdapterConfig;
  readonly #client: Client<typeof ComputeService>;
  readonly #sessions: Http2SessionManager;
  readonly #verificationCache = createVerificationCache();

  constructor(options: ZeroGComputeAdapterOptions = {}) {
    this.config = resolveConfig(options);
    const apiKey = this.config.apiKey;
    const auth: Interceptor = (next) => (req) => {
      if (apiKey) req.header.set("authorization", `Bearer ${apiKey}`);
      return next(req);
    };
    this.#sessions = new Http2SessionManager(this.config.baseUrl, { idleConnectionTimeoutMs: 15_000 });
    this.#client = createClient(
      ComputeService,
      createGrpcTransport({
        baseUrl: this.config.baseUrl,
        sessionManager: this.#sessions,
        interceptors: [auth],
        // A bridge on this host (the sidecar case) gains nothing from gzip, which costs both sides CPU.
        ...(isLoopback(this.config.baseUrl) ? { acceptCompression: [] } : {}),
      }),
    );
  }

  /**
   * Submits a task and returns its job id once the bridge has stored it. The task is the original
   * adapter's dictionary (snake_case or camelCase) or a `ComputeTask`; it is validated here first,
   * so a malformed task throws `ZeroGError` (code `invalid_argument`, with `violations`) without a call.
   */
  async submit(task: TaskInput | ComputeTask, options: SubmitOptions = {}): Promise<string> {
    const parsed = parseTask(task);
    if (!parsed.ok) throw invalidArgument(parsed.violations);
    const res = await this.#call((o) =>
      this.#client.submit(
        create(SubmitRequestSchema, { task: parsed.task, idempotencyKey: options.idempotencyKey ?? "" }),
        o,
      ),
    );
    return res.jobId;
  }

  /** The job's state, progress, error and provider. */
  async status(jobId: string): Promise<JobStatus> {
    return jobStatus(await this.#call((o) => this.#client.getJob({ jobId }, o)));
  }

  /**
   * The job's output and proof. With `wait` (the default) it waits up to `timeoutS` for the job to
   * end, then throws `wait_timeout`; a failed job throws `job_failed` with its `failureReason`.
   */
  async result(jobId: string, options: ResultOptions = {}): Promise<JobResult> {
    const wait = options.wait ?? true;
    const timeoutS = options.timeoutS ?? this.config.timeoutSeconds;
    const res = await this.#call(
      (o) => this.#client.getResult({ jobId, wait, timeoutSeconds: Math.ceil(timeoutS) }, o),
      wait ? (timeoutS + 10) * 1000 : undefined,
    );
    return jobResult(res);
  }

  /** Follows a job until it ends: its state changes and, for streamed inference, the output as it comes. */
  async *watch(jobId: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<JobUpdate> {
    try {
      for await (const event of this.#client.watchJob(
        { jobId },
        options.signal ? { signal: options.signal } : {},
      )) {
        yield { status: jobStatus(event.job!), outputDelta: event.outputDelta };
      }
    } catch (err) {
      throw this.#error(err);
    }
  }

  /** Cancels a queued or running job; returns its status afterwards. */
  async cancel(jobId: string): Promise<JobStatus> {
    const res = await this.#call((o) => this.#client.cancelJob({ jobId }, o));
    return jobStatus(res.job!);
  }

  /** Jobs, newest first; pass `nextPageToken` back as `pageToken` for the next page. */
  async listJobs(options: ListJobsOptions = {}): Promise<{ jobs: JobStatus[]; nextPageToken: string }> {
    const states = (options.states ?? []).map((s) => {
      const state = jobStateFromName(s);
      if (state === undefined) throw new TypeError(`unknown job state ${JSON.stringify(s)}`);
      return state;
    });
    const res = await this.#call((o) =>
      this.#client.listJobs(
        { states, pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "" },
        o,
      ),
    );
    return { jobs: res.jobs.map(jobStatus), nextPageToken: res.nextPageToken };
  }

  /** Provider services on offer: models, verifiability, prices. */
  async listServices(filter: { model?: string; verification?: VerificationName } = {}): Promise<Service[]> {
    const request: ServiceFilter = { model: filter.model };
    if (filter.verification) request.verification = verificationFromName(filter.verification);
    const res = await this.#call((o) =>
      this.#client.listServices({ model: request.model ?? "", verification: request.verification ?? 0 }, o),
    );
    return res.services;
  }

  /**
   * Checks a result offline with `@chaoschain/zerog-verifier`: enclave signature over the exact
   * request and response, output, TDX quote, report-data binding, workload, GPU evidence,
   * freshness. Trusts neither the bridge nor the provider.
   *
   * @example
   * const result = await zerog.result(jobId);
   * const report = await zerog.verify(result, { collateral });
   * if (!report.ok) throw new Error(`${report.reason}: ${report.message}`);
   */
  verify(result: JobResult, options: VerifyOptions): Promise<VerifyProofReturnType> {
    return verifyProof(
      { output: result.output, proof: result.proof },
      {
        now: options.now ?? Math.floor(Date.now() / 1000),
        policy: options.policy,
        collateral: options.collateral,
        cache: this.#verificationCache,
      },
    );
  }

  /** Closes the HTTP/2 connection. */
  close(): void {
    this.#sessions.abort();
  }

  async #call<T>(fn: (options: CallOptions) => Promise<T>, timeoutMs?: number): Promise<T> {
    try {
      return await fn({ timeoutMs: timeoutMs ?? this.config.timeoutSeconds * 1000 });
    } catch (err) {
      throw this.#error(err);
    }
  }

  #error(err: unknown): ZeroGError {
    if (err instanceof ZeroGError) return err;
    return fromConnectError(ConnectError.from(err));
  }
}
