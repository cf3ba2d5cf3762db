import { create, toBinary } from "@bufbuild/protobuf";
import {
  type ComputeResult,
  ComputeService,
  type ComputeTask,
  invalidArgument,
  isTerminalState,
  JobState,
  parseTask,
  type Service,
  SubmitRequestSchema,
  type TaskInput,
  type VerificationName,
  validateIdempotencyKey,
  verificationFromName,
  ZeroGError,
} from "@chaoschain/zerog-core";
import { createVerificationCache, type VerifyProofReturnType, verifyProof } from "@chaoschain/zerog-verifier";
import {
  type CallOptions,
  type Client,
  ConnectError,
  createClient,
  type Transport,
} from "@connectrpc/connect";
import { maxTimeoutSeconds, type ResolvedAdapterConfig, type VerifyOptions } from "./config.js";
import {
  badArgument,
  type CallContext,
  explainAnswer,
  ProofVerificationError,
  requireJobId,
} from "./errors.js";
import { expectedRequest, RecentRequests, requestDifferences, requestModel } from "./task-check.js";
import {
  type ChaosChainSdkTask,
  fromChaosChainSdkTask,
  type InferenceInput,
  inferenceInputs,
  isChaosChainSdkTask,
} from "./task-shapes.js";
import {
  type JobAttestation,
  type JobResult,
  type JobStatus,
  type JobStatusName,
  jobAttestation,
  jobResult,
  jobStateOf,
  jobStatus,
  malformedAnswer,
} from "./views.js";

export interface SubmitOptions {
  /** Submitting again with the same key returns the first job instead of creating another. */
  idempotencyKey?: string | undefined;
}

export interface ResultOptions {
  /** Wait for the job to end. Default true. */
  wait?: boolean | undefined;
  /** Longest wait, seconds. Default: the adapter's timeoutSeconds. */
  timeoutS?: number | undefined;
  /**
   * The task submitted for this job, when another adapter submitted it: the result must answer exactly
   * it (`taskCheck`). Tasks submitted through this adapter are remembered (the last 10,000, up to 16 MiB).
   */
  task?: TaskInput | ComputeTask | ChaosChainSdkTask | undefined;
}

/** One event of {@link ZeroGComputeAdapterBase.watch}. */
export interface JobUpdate {
  status: JobStatus;
  /** Streamed output text since the previous update (streamed inference only). */
  outputDelta: string;
}

export interface ListJobsOptions {
  /** ChaosChain names (`pending`, `completed` …) or the contract's (`queued`, `succeeded`). */
  states?: Array<JobStatusName | "queued" | "succeeded"> | undefined;
  /** Jobs per page, at most 1000; default (0): the bridge's. */
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

/** Options of {@link ZeroGComputeAdapterBase.inference}: the rest of the task. */
export interface InferenceOptions {
  verification?: VerificationName | undefined;
  resources?: TaskInput["resources"];
  providerAddress?: string | undefined;
  /** Longest wait for the result, seconds. Default: the adapter's timeoutSeconds. */
  timeoutS?: number | undefined;
}

/** Options of {@link ZeroGComputeAdapterBase.fineTune}: the rest of the task. */
export interface FineTuneOptions {
  /**
   * Training parameters (`inputs.extras`): `num_train_epochs` (default 1), `learning_rate`, `lora_r`,
   * `lora_alpha`, … as the bridge documents them; unknown keys are refused.
   */
  trainingParams?: Record<string, number | boolean> | undefined;
  resources?: TaskInput["resources"];
  providerAddress?: string | undefined;
  /** Longest wait for the result, seconds. Default: the adapter's timeoutSeconds. Training takes minutes. */
  timeoutS?: number | undefined;
}

/** The longest deadline of one call: gRPC sends it in at most 8 digits, and connect writes milliseconds. */
const maxCallMs = 99_999_999;
/** The most jobs the bridge lists in one page. */
const maxPageSize = 1000;
/** The longest wait one GetResult asks the bridge for, seconds; a longer result() waits again. */
const maxWaitPerCallS = 86_400;

/** Refuses an answer about another job than the one asked (a bridge must never swap them). */
function sameJob(asked: string, answered: string, what: string): void {
  if (answered !== asked) {
    throw malformedAnswer(asked, `${what} of job`, `${JSON.stringify(answered.slice(0, 200))}, another job`);
  }
}

/** A proof that is no answer to what it claims: `job_failed`, `proof_invalid`. */
function notTheAnswer(message: string): ZeroGError {
  return new ZeroGError("job_failed", message, {
    failureReason: "proof_invalid",
    metaMessages: ["Do not rely on this output: the bridge handed out the result of another request."],
  });
}

/**
 * The `response.signature` check of a verified proof, when it passed: the request body is then the one
 * the enclave signed (a fine-tuning proof verifies without one: its chat bodies, if any, are anyone's).
 */
function signedRequest(result: ComputeResult, verification: VerifyProofReturnType): Uint8Array | undefined {
  const passed = verification.checks.some((c) => c.name === "response.signature" && c.status === "pass");
  return passed ? (result.proof?.requestBody ?? new Uint8Array()) : undefined;
}

/** The model a verified proof names (unsigned) is the one of the request its enclave signed. */
function requireSignedModel(result: ComputeResult, verification: VerifyProofReturnType): void {
  const request = signedRequest(result, verification);
  const claimed = result.proof?.model ?? "";
  if (request === undefined || claimed === "") return;
  const signed = requestModel(request);
  if (signed === claimed) return;
  throw notTheAnswer(
    `the proof of job ${result.jobId} names model ${JSON.stringify(claimed.slice(0, 200))}, but its enclave signed a request for ${signed === undefined ? "no model" : JSON.stringify(signed.slice(0, 200))}`,
  );
}

/**
 * The token counts of a verified inference result are those its signed response reports (none: zero):
 * the bridge's `usage` is otherwise its own account, and the fee is computed from it.
 */
function requireSignedUsage(result: ComputeResult, verification: VerifyProofReturnType): void {
  if (signedRequest(result, verification) === undefined) return;
  // Read by the verifier from the signed response (absent when it reports none, or cannot be read).
  const signed = verification.usage;
  const u = result.usage;
  const claimed = [u?.promptTokens ?? 0n, u?.completionTokens ?? 0n, u?.totalTokens ?? 0n];
  const reported = [signed?.promptTokens ?? 0, signed?.completionTokens ?? 0, signed?.totalTokens ?? 0];
  if (claimed.every((n, i) => n === BigInt(reported[i]!))) return;
  throw new ZeroGError(
    "job_failed",
    `the usage of job ${result.jobId} (prompt, completion, total: ${claimed.join(", ")} tokens) is not what its signed response reports (${reported.join(", ")})`,
    {
      failureReason: "proof_invalid",
      metaMessages: [
        "Do not rely on this result: the bridge changed the token counts (and so the fee) of the answer.",
      ],
    },
  );
}

/**
 * A verified inference result must answer its task: the request its enclave signed is the one the
 * task maps to (model, messages, parameters, extras, and nothing else). Else the bridge handed out
 * another request's result: another job's, or one it changed on the way.
 */
function requireAnswerTo(expected: string, result: ComputeResult, verification: VerifyProofReturnType): void {
  const signature = verification.checks.find((c) => c.name === "response.signature");
  const request = signedRequest(result, verification);
  if (request === undefined) {
    throw notTheAnswer(
      `the proof of job ${result.jobId} carries no request its enclave signed (response.signature ${signature ? `${signature.status}: ${signature.skipReason ?? signature.reason}` : "absent: a fine-tuning proof"}), so it cannot answer this job's inference task`,
    );
  }
  const differences = requestDifferences(expected, request);
  if (differences.length === 0) return;
  throw notTheAnswer(
    `the proof of job ${result.jobId} answers another request: the request its enclave signed differs from this job's task in ${differences.join(", ")}`,
  );
}

/** The task of a submit() or of result()'s `task` option, checked; `path` names it in errors. */
function taskOf(task: unknown, path: string): ComputeTask {
  let input = task;
  if (isChaosChainSdkTask(task)) {
    const converted = fromChaosChainSdkTask(task);
    if (!converted.ok) throw invalidArgument(converted.violations);
    input = converted.task;
  }
  const parsed = parseTask(input, path);
  if (!parsed.ok) throw invalidArgument(parsed.violations);
  return parsed.task;
}

/** How a concrete adapter talks to the bridge (Node: gRPC over HTTP/2; browsers: Connect / gRPC-web). */
export interface AdapterConnection {
  transport: Transport;
  /**
   * Names the cause of a transport failure that no server explained (Node looks at what the
   * server speaks), and resets the connection when it is broken.
   */
  explain(err: ConnectError, ctx: CallContext): Promise<ZeroGError>;
  close(): void;
}

/**
 * What the Node and browser adapters share: every call of the bridge, in ChaosChain's vocabulary,
 * and offline verification. Construct {@link ZeroGComputeAdapter} (or the browser entry's) instead.
 */
export class ZeroGComputeAdapterBase {
  readonly config: ResolvedAdapterConfig;
  readonly #client: Client<typeof ComputeService>;
  readonly #connection: AdapterConnection;
  readonly #verificationCache = createVerificationCache();
  /** The request each inference task submitted here maps to, by job id (the most recent tasks). */
  readonly #submitted = new RecentRequests({ count: 10_000, chars: 16 * 1024 * 1024 });

  protected constructor(config: ResolvedAdapterConfig, connection: AdapterConnection) {
    this.config = config;
    this.#connection = connection;
    this.#client = createClient(ComputeService, connection.transport);
  }

  /**
   * Submits a task and returns its job id once the bridge has stored it. The task is the original
   * adapter's dictionary (snake_case or camelCase), a `ComputeTask`, or the task `@chaoschain/sdk`'s
   * process integrity sends (`{ function, inputs, model, prompt }`). It is validated here first: a
   * malformed or oversized task throws `ZeroGError` (code `invalid_argument`, with `violations`)
   * without a call.
   *
   * @example
   * const jobId = await zerog.submit({
   *   task_type: "inference",
   *   model: "llama-3-8b",
   *   inputs: { prompt: "What is blockchain?" },
   *   verification: "tee-ml",
   * });
   */
  async submit(
    task: TaskInput | ComputeTask | ChaosChainSdkTask,
    options: SubmitOptions = {},
  ): Promise<string> {
    const idempotencyKey = options?.idempotencyKey ?? "";
    if (typeof idempotencyKey !== "string") {
      throw badArgument("options.idempotencyKey", "INVALID_TYPE", "must be a string");
    }
    const keyViolations = validateIdempotencyKey(idempotencyKey, "options.idempotencyKey");
    if (keyViolations.length) throw invalidArgument(keyViolations);
    const computeTask = taskOf(task, "task");
    const request = create(SubmitRequestSchema, { task: computeTask, idempotencyKey });
    const size = toBinary(SubmitRequestSchema, request).byteLength;
    if (size > this.config.maxRequestBytes) {
      throw badArgument(
        "task",
        "OUT_OF_RANGE",
        `the request is ${size} bytes, more than the ${this.config.maxRequestBytes} the bridge accepts ` +
          "(maxRequestBytes / ZEROG_MAX_REQUEST_BYTES); send fewer or shorter messages",
      );
    }
    const res = await this.#call("Submit", (o) => this.#client.submit(request, o));
    const expected = expectedRequest(computeTask);
    const earlier = this.#submitted.get(res.jobId);
    // One job for two different tasks: its result could pass for the answer to either.
    if (earlier !== undefined && earlier !== expected)
      throw malformedAnswer(res.jobId, "a submit", "of another task than the one submitted as that job");
    if (expected !== undefined) this.#submitted.set(res.jobId, expected);
    return res.jobId;
  }

  /**
   * The job's state (`pending`, `running`, `completed`, `failed`, `cancelled`), progress, message
   * and provider; also as the original adapter's `{ job_id, status, progress, message, updated_at }`.
   */
  async status(jobId: string): Promise<JobStatus> {
    const id = requireJobId(jobId);
    const job = await this.#call("GetJob", (o) => this.#client.getJob({ jobId: id }, o));
    sameJob(id, job.jobId, "the state");
    return jobStatus(job);
  }

  /**
   * The job's output and proof, verified here first with `@chaoschain/zerog-verifier` (the `verify`
   * option; on by default): the report is `result.verification`, and a proof that does not verify
   * throws {@link ProofVerificationError} (`job_failed`, `proof_invalid`) carrying it. With `wait` (the
   * default) it waits up to `timeoutS` for the job to end, then throws `wait_timeout`; a failed job
   * throws `job_failed` with its `failureReason`.
   *
   * @example
   * const result = await zerog.result(jobId, { wait: true, timeoutS: 600 });
   * console.log(result.output, result.verification?.ok); // "…" true
   */
  async result(jobId: string, options: ResultOptions = {}): Promise<JobResult> {
    const id = requireJobId(jobId);
    const wait = options?.wait ?? true;
    if (typeof wait !== "boolean") throw badArgument("options.wait", "INVALID_TYPE", "must be true or false");
    const timeoutS = options?.timeoutS ?? this.config.timeoutSeconds;
    if (typeof timeoutS !== "number" || !(timeoutS > 0) || !(timeoutS <= maxTimeoutSeconds)) {
      throw badArgument(
        "options.timeoutS",
        "OUT_OF_RANGE",
        `must be a positive number of seconds, at most ${maxTimeoutSeconds} (24.8 days)`,
      );
    }
    const given = options?.task === undefined ? undefined : taskOf(options.task, "options.task");
    const expected = given ? expectedRequest(given) : this.#submitted.get(id);
    const res = wait
      ? await this.#waitForResult(id, timeoutS)
      : await this.#call("GetResult", (o) => this.#client.getResult({ jobId: id }, o));
    sameJob(id, res.jobId, "the result");
    if (!res.proof) {
      throw new ZeroGError("internal", `the bridge returned job ${id}'s result without a proof`);
    }
    const settings = this.config.verify;
    if (settings === false) return jobResult(res, undefined, "skipped");
    const verification = await this.#verify(res, settings);
    if (!verification.ok)
      throw new ProofVerificationError(res.jobId, verification, res, settings.policySource);
    requireSignedModel(res, verification);
    requireSignedUsage(res, verification);
    if (expected === undefined) return jobResult(res, verification, "skipped");
    requireAnswerTo(expected, res, verification);
    return jobResult(res, verification, "verified");
  }

  /**
   * Follows a job until it ends: its state changes and, for streamed inference, the output as it
   * comes. Ends quietly when `signal` aborts.
   */
  async *watch(jobId: string, options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<JobUpdate> {
    const id = requireJobId(jobId);
    const signal = options?.signal;
    let last: JobStatus | undefined;
    try {
      for await (const event of this.#client.watchJob({ jobId: id }, signal ? { signal } : {})) {
        if (!event.job) throw malformedAnswer(id, "an event", "without the job");
        sameJob(id, event.job.jobId, "an event");
        last = jobStatus(event.job);
        yield { status: last, outputDelta: event.outputDelta };
        if (isTerminalState(event.job.state)) return;
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw await this.#error(err, "WatchJob");
    }
    if (signal?.aborted) return;
    // A bridge ends the stream after the job's last state; an end before it is no end of the job.
    throw new ZeroGError(
      "unavailable",
      `the bridge ended the watch of job ${id} ${last ? `while the job was ${last.state}` : "before sending its state"}`,
      { metaMessages: ["Watch it again, or read its state with status()."] },
    );
  }

  /**
   * Cancels a queued or running job. Returns true when the job is cancelled, false when it had
   * already ended otherwise (as the original adapter's `cancel()`).
   */
  async cancel(jobId: string): Promise<boolean> {
    const id = requireJobId(jobId);
    const res = await this.#call("CancelJob", (o) => this.#client.cancelJob({ jobId: id }, o));
    if (res.job) sameJob(id, res.job.jobId, "the state");
    return res.job?.state === JobState.CANCELLED;
  }

  /** Jobs, newest first; pass `nextPageToken` back as `pageToken` for the next page. */
  async listJobs(options: ListJobsOptions = {}): Promise<{ jobs: JobStatus[]; nextPageToken: string }> {
    const pageSize = options?.pageSize ?? 0;
    if (
      typeof pageSize !== "number" ||
      !Number.isInteger(pageSize) ||
      pageSize < 0 ||
      pageSize > maxPageSize
    ) {
      throw badArgument(
        "options.pageSize",
        "OUT_OF_RANGE",
        `a whole number of jobs up to ${maxPageSize} (0: the bridge's default)`,
      );
    }
    const pageToken = options?.pageToken ?? "";
    if (typeof pageToken !== "string") {
      throw badArgument("options.pageToken", "INVALID_TYPE", "the nextPageToken of the previous page");
    }
    const given = options?.states ?? [];
    if (!Array.isArray(given)) {
      throw badArgument("options.states", "INVALID_TYPE", 'an array of states, e.g. ["running"]');
    }
    const states = given.map((s, i) => {
      const state = typeof s === "string" ? jobStateOf(s) : undefined;
      if (state === undefined) {
        throw badArgument(
          `options.states[${i}]`,
          "INVALID_VALUE",
          `unknown state ${JSON.stringify(s)}; one of pending, running, completed, failed, cancelled`,
        );
      }
      return state;
    });
    const res = await this.#call("ListJobs", (o) =>
      this.#client.listJobs({ states, pageSize, pageToken }, o),
    );
    return { jobs: res.jobs.map(jobStatus), nextPageToken: res.nextPageToken };
  }

  /** Provider services on offer: models, verifiability, GPU types, prices. */
  async listServices(
    filter: { model?: string; verification?: VerificationName; serviceType?: string } = {},
  ): Promise<Service[]> {
    for (const key of ["model", "serviceType"] as const) {
      if (filter?.[key] !== undefined && typeof filter[key] !== "string") {
        throw badArgument(`filter.${key}`, "INVALID_TYPE", "must be a string");
      }
    }
    let verification = 0;
    if (filter?.verification !== undefined) {
      const v = verificationFromName(filter.verification);
      if (v === undefined) {
        throw badArgument("filter.verification", "INVALID_VALUE", 'one of "tee-ml", "zk-ml", "op-ml"');
      }
      verification = v;
    }
    const res = await this.#call("ListServices", (o) =>
      this.#client.listServices(
        { model: filter?.model ?? "", verification, serviceType: filter?.serviceType ?? "" },
        o,
      ),
    );
    return res.services;
  }

  /**
   * The models on offer, sorted: `@chaoschain/sdk`'s `ComputeProvider.getModels()`.
   *
   * @example
   * console.log(await zerog.getModels()); // ["gpt-oss-120b", "llama-3-8b"]
   */
  async getModels(): Promise<string[]> {
    return [...new Set((await this.listServices()).map((s) => s.model))].sort();
  }

  /**
   * Runs an inference and waits for its result: `@chaoschain/sdk`'s
   * `ComputeProvider.inference(model, input)`. `input` is a prompt, chat messages, or task inputs.
   *
   * @example
   * const result = await zerog.inference("llama-3-8b", "What is blockchain?");
   * if (result.success) console.log(result.output);
   */
  async inference(model: string, input: InferenceInput, options: InferenceOptions = {}): Promise<JobResult> {
    if (typeof model !== "string") throw badArgument("model", "INVALID_TYPE", "must be a model name");
    if (input === undefined || input === null || (typeof input !== "string" && typeof input !== "object")) {
      throw badArgument("input", "INVALID_TYPE", "must be a prompt, chat messages, or task inputs");
    }
    const task = {
      task_type: "inference",
      model,
      inputs: inferenceInputs(input),
      verification: options?.verification ?? "tee-ml",
      ...(options?.resources ? { resources: options.resources } : {}),
      ...(options?.providerAddress ? { provider_address: options.providerAddress } : {}),
    };
    const jobId = await this.submit(task);
    return this.result(jobId, { wait: true, timeoutS: options?.timeoutS, task });
  }

  /**
   * Fine-tunes a base model on a dataset through 0G's TEE fine-tuning providers and waits for the
   * result. `dataset` is inline JSONL (starting with `{`), a `file://` path on the bridge host, an
   * `https://` URL the bridge is allowed to fetch, or a 0G Storage root hash (`0x…`). The result's
   * `artifact` names the decrypted model the bridge wrote (`{ path, sha256, size }`); its proof binds it
   * to the provider's TEE. Watch progress with `watch(jobId)` on a job from `submit()`.
   *
   * @example
   * const result = await zerog.fineTune("Qwen2.5-0.5B-Instruct", '{"instruction":"Say hi","output":"hi"}\n', {
   *   trainingParams: { num_train_epochs: 2 },
   *   timeoutS: 3600,
   * });
   * if (result.success) console.log(result.artifact?.path, result.artifact?.sha256);
   */
  async fineTune(model: string, dataset: string, options: FineTuneOptions = {}): Promise<JobResult> {
    if (typeof model !== "string") throw badArgument("model", "INVALID_TYPE", "must be a base model name");
    if (typeof dataset !== "string") {
      throw badArgument(
        "dataset",
        "INVALID_TYPE",
        "must be JSONL text, a file:// or https:// URL, or a 0x root hash",
      );
    }
    const jobId = await this.submit({
      task_type: "fine-tuning",
      model,
      inputs: { dataset, ...(options?.trainingParams ? { extras: options.trainingParams } : {}) },
      verification: "tee-ml",
      ...(options?.resources ? { resources: options.resources } : {}),
      ...(options?.providerAddress ? { provider_address: options.providerAddress } : {}),
    });
    return this.result(jobId, { wait: true, timeoutS: options?.timeoutS });
  }

  /**
   * The TEE evidence of a finished job (quote, report data, enclave key, workload, GPU token) and
   * its whole proof, JSON-safe: what `@chaoschain/sdk` keeps as `attestation_data`. Throws
   * {@link ProofVerificationError} when the adapter verifies and the proof does not.
   */
  async attestation(jobId: string): Promise<JobAttestation> {
    const result = await this.result(jobId, { wait: false });
    return jobAttestation(result.jobId, result.proof);
  }

  /**
   * Checks a result offline with `@chaoschain/zerog-verifier`: enclave signature over the exact
   * request and response, output, TDX quote against the collateral embedded in the proof (or
   * `collateral`), report-data binding, workload, GPU evidence, freshness. Trusts neither the bridge
   * nor the provider. Options default to the adapter's `verify` option (its policy included); returns
   * the report, valid or not.
   *
   * @example
   * const report = await zerog.verify(result, { policy: JSON.parse(await readFile(".zerog/devnet-policy.json", "utf8")) });
   * if (!report.ok) throw new Error(`${report.reason}: ${report.message}`);
   */
  verify(
    result: { output?: string | undefined; proof?: unknown; raw?: unknown },
    options?: VerifyOptions,
  ): Promise<VerifyProofReturnType> {
    if (typeof result !== "object" || result === null) {
      return Promise.reject(
        badArgument("result", "REQUIRED", "a result as result() returns it, or { output, proof }"),
      );
    }
    const input = result.proof === undefined && result.raw !== undefined ? result.raw : result;
    const { proof } = input as { proof?: unknown };
    if (typeof proof !== "object" || proof === null) {
      return Promise.reject(badArgument("result.proof", "REQUIRED", "the result carries no proof"));
    }
    // Only the ComputeResult part: the SDK-facing fields next to it (execution_hash, …) would make
    // the input ambiguous to the verifier.
    const { output } = input as { output?: unknown };
    return this.#verify(typeof output === "string" ? { output, proof } : { proof }, {
      ...(this.config.verify || {}),
      ...options,
    });
  }

  /** Closes the connection to the bridge. */
  close(): void {
    this.#connection.close();
  }

  #verify(
    result: { output?: string; proof?: unknown },
    options: VerifyOptions,
  ): Promise<VerifyProofReturnType> {
    if (typeof options !== "object" || options === null) {
      return Promise.reject(badArgument("options", "INVALID_TYPE", "must be { policy?, collateral?, now? }"));
    }
    return verifyProof(result as never, {
      now: options.now ?? Math.floor(Date.now() / 1000),
      policy: options.policy,
      collateral: options.collateral,
      cache: this.#verificationCache,
    });
  }

  /**
   * GetResult calls waiting for the job until `timeoutS` has passed. The bridge ends one wait after an
   * hour, and a call here asks for a day at most: while time is left, the adapter waits again. A
   * wait_timeout sooner than a second is the bridge's answer, not a wait cut short.
   */
  async #waitForResult(jobId: string, timeoutS: number): Promise<ComputeResult> {
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const waitS = Math.min(Math.max(1, Math.ceil((deadline - Date.now()) / 1000)), maxWaitPerCallS);
      const started = Date.now();
      try {
        return await this.#call(
          "GetResult",
          (o) => this.#client.getResult({ jobId, wait: true, timeoutSeconds: waitS }, o),
          // The bridge answers wait_timeout after waitS: the call itself may take a little longer.
          (waitS + 10) * 1000,
        );
      } catch (err) {
        const cutShort = Date.now() - started >= 1000 && Date.now() < deadline;
        if (!(err instanceof ZeroGError && err.code === "wait_timeout" && cutShort)) throw err;
      }
    }
  }

  async #call<T>(method: string, fn: (options: CallOptions) => Promise<T>, timeoutMs?: number): Promise<T> {
    // gRPC sends a deadline in at most 8 digits (connect writes milliseconds): 99,999,999 ms, 27.7 h.
    const ms = Math.min(timeoutMs ?? this.config.timeoutSeconds * 1000, maxCallMs);
    try {
      return await fn({ timeoutMs: ms });
    } catch (err) {
      throw await this.#error(err, method, ms);
    }
  }

  async #error(
    err: unknown,
    method: string,
    timeoutMs = this.config.timeoutSeconds * 1000,
  ): Promise<ZeroGError> {
    if (err instanceof ZeroGError) return err;
    const connectError = ConnectError.from(err);
    const ctx: CallContext = {
      method,
      baseUrl: this.config.baseUrl,
      timeoutSeconds: timeoutMs / 1000,
      maxResponseBytes: this.config.maxResponseBytes,
    };
    return explainAnswer(connectError, ctx) ?? (await this.#connection.explain(connectError, ctx));
  }
}
