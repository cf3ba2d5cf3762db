import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import {
  BackendError,
  type BackendJobRef,
  type BackendJobResult,
  type BackendJobStatus,
  type BackendSubmitOptions,
  type ComputeBackend,
  type ComputeProof,
  type ComputeTask,
  FailureReason,
  failureReasonName,
  type Service,
  type ServiceFilter,
  TaskType,
  UsageSchema,
  VerificationMethod,
  verificationName,
} from "@chaoschain/zerog-core";
import {
  createVerificationCache,
  InvalidInputError,
  outputFromResponseBody,
  type VerificationCache,
  verifyResponseSignature,
} from "@chaoschain/zerog-verifier";
import type { Logger } from "pino";
import { defaultFundingPolicy, Funding, type FundingPolicy } from "./funding.js";
import { chatRequestBody, createSseDeltaReader, usageFromResponseBody } from "./openai.js";
import { PromiseCache } from "./promise-cache.js";
import { buildProof } from "./proof.js";
import {
  type ChatExchange,
  fetchAttestation,
  fetchSignature,
  type ProviderAttestation,
  type ProviderSignature,
  postChatCompletion,
  SessionRejectedError,
} from "./provider-http.js";
import { connectBroker, forgetSdkSession, type ZeroGBroker, type ZeroGNetwork } from "./sdk.js";
import { expectedSigner, ServiceDirectory, type ServiceRecord } from "./services.js";
import { TxQueue } from "./tx-queue.js";

/**
 * A full offline check of a proof (the verifier with the bridge's policy); ok or why not. `cache` is the
 * backend's verification cache, already holding this proof's signer recovery.
 */
export type ProofCheck = (
  proof: ComputeProof,
  cache: VerificationCache,
) => Promise<{ ok: true } | { ok: false; reason: string }>;

export interface ZeroGBackendOptions {
  network: ZeroGNetwork;
  /** Wallet private key (hex). Used to sign; never logged or stored. */
  walletKey: string;
  logger: Logger;
  funding?: Partial<FundingPolicy>;
  /** Per provider call, ms. Default 60 000. */
  requestTimeoutMs?: number;
  /** Tries per provider for retryable failures before failing over. Default 2. */
  attemptsPerProvider?: number;
  /** First retry delay, ms; doubles each time. Default 200. */
  retryBackoffMs?: number;
  /** How long the on-chain service list is cached, ms. Default 60 000. */
  serviceTtlMs?: number;
  /** How long a provider's attestation is reused, ms. Default 600 000. */
  attestationTtlMs?: number;
  /**
   * How long the SDK's signed session header for a provider is reused, ms. Default 300 000. The SDK's
   * ephemeral tokens live 24 h, but `getRequestHeaders` reads the chain on every call; a token the provider
   * rejects (revoked) is dropped at once and the request retried with a fresh one.
   */
  sessionReuseMs?: number;
  /** Extra check of each proof before its result is accepted (quote, workload, GPU). */
  checkProof?: ProofCheck | undefined;
  /** Metrics: time in each stage of a run, and each failed provider call by failure reason. */
  observe?: { stage(name: string, seconds: number): void; providerError(reason: string): void } | undefined;
  /** The W3C `traceparent` to send with a job's provider request, when the job has a trace. */
  traceparent?: ((jobId: string) => string | undefined) | undefined;
}

interface RunningJob {
  controller: AbortController;
  promise: Promise<BackendJobResult>;
  settled: { ok: true } | { ok: false; error: Error } | undefined;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/**
 * Runs inference on the 0G Compute Network through the 0G SDK: services discovered on chain,
 * ledger and provider sub-accounts funded, requests signed with the wallet, every response's
 * enclave signature checked against the exact bytes sent and received, and a self-contained
 * proof captured at call time. Fails over to another provider of the same model when one is down.
 */
export class ZeroGBackend implements ComputeBackend {
  readonly name: string;
  readonly #broker: ZeroGBroker;
  readonly #directory: ServiceDirectory;
  readonly #funding: Funding;
  readonly #chainId: bigint;
  readonly #wallet: string;
  readonly #logger: Logger;
  readonly #options: ZeroGBackendOptions;
  readonly #jobs = new Map<BackendJobRef, RunningJob>();
  readonly #attestations: PromiseCache<string, ProviderAttestation>;
  readonly #sessions: PromiseCache<string, Record<string, string>>;
  readonly #closing = new AbortController();
  /** Parsed collateral, verified quotes, event-log replays and signer recoveries, shared by all jobs. */
  readonly #verificationCache = createVerificationCache();

  private constructor(
    options: ZeroGBackendOptions,
    broker: ZeroGBroker,
    funding: Funding,
    chainId: bigint,
    wallet: string,
  ) {
    this.name = `0g-${options.network.name}`;
    this.#options = options;
    this.#broker = broker;
    this.#funding = funding;
    this.#chainId = chainId;
    this.#wallet = wallet;
    this.#logger = options.logger.child({ backend: this.name });
    this.#directory = new ServiceDirectory(broker, options.serviceTtlMs ?? 60_000);
    this.#attestations = new PromiseCache(options.attestationTtlMs ?? 600_000);
    this.#sessions = new PromiseCache(options.sessionReuseMs ?? 300_000);
  }

  /** Connects the wallet to the network and returns a ready backend (no transaction is sent yet). */
  static async connect(options: ZeroGBackendOptions): Promise<ZeroGBackend> {
    const { broker, wallet, chain, chainId } = await connectBroker(options.network, options.walletKey);
    const funding = new Funding({
      broker,
      chain,
      wallet: wallet.address,
      txs: new TxQueue(),
      policy: { ...defaultFundingPolicy, ...options.funding },
      logger: options.logger,
      gasPrice: options.network.gasPrice,
    });
    options.logger.info(
      { network: options.network.name, chainId: Number(chainId), wallet: wallet.address },
      "connected to 0G",
    );
    return new ZeroGBackend(options, broker, funding, chainId, wallet.address);
  }

  listServices(filter?: ServiceFilter): Promise<Service[]> {
    return this.#directory.list(filter);
  }

  async check(task: ComputeTask): Promise<string | undefined> {
    if (task.taskType !== TaskType.INFERENCE) {
      return "only inference tasks run on this bridge for now; fine-tuning and training are not supported yet";
    }
    const refusal = await this.#directory.refusal(task);
    if (refusal || task.verification === VerificationMethod.TEE_ML) return refusal;
    // Offered, but this bridge can only check TEE proofs: never return a result it cannot verify.
    return (
      `${verificationName(task.verification)} providers offer ${JSON.stringify(task.model)}, but this bridge can ` +
      "only verify tee-ml proofs; submit with verification tee-ml"
    );
  }

  async submit(task: ComputeTask, options: BackendSubmitOptions): Promise<BackendJobRef> {
    const ref = `${options.jobId}:${randomUUID()}`;
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, options.signal, this.#closing.signal]);
    const job: RunningJob = { controller, promise: this.#run(task, options, signal), settled: undefined };
    job.promise.then(
      () => {
        job.settled = { ok: true };
      },
      (error: Error) => {
        job.settled = { ok: false, error };
      },
    );
    this.#jobs.set(ref, job);
    return ref;
  }

  async status(ref: BackendJobRef): Promise<BackendJobStatus> {
    const job = this.#jobs.get(ref);
    if (!job) return { state: "unknown" };
    if (!job.settled) return { state: "running", progress: 0 };
    return job.settled.ok ? { state: "succeeded" } : { state: "failed", error: job.settled.error };
  }

  async result(ref: BackendJobRef, options: { signal: AbortSignal }): Promise<BackendJobResult> {
    const job = this.#jobs.get(ref);
    if (!job)
      throw new BackendError(FailureReason.INTERRUPTED, "this job's request was lost in a bridge restart");
    try {
      return await new Promise<BackendJobResult>((resolve, reject) => {
        job.promise.then(resolve, reject);
        options.signal.addEventListener("abort", () => reject(options.signal.reason), { once: true });
      });
    } finally {
      if (job.settled || options.signal.aborted) this.#jobs.delete(ref);
    }
  }

  async cancel(ref: BackendJobRef): Promise<void> {
    this.#jobs.get(ref)?.controller.abort("cancelled");
  }

  /** The wallet's 0G compute ledger (neuron), or undefined when it has none yet. */
  async ledgerBalance(): Promise<{ available: bigint; total: bigint } | undefined> {
    const ledger = await this.#broker.ledger.getLedger().catch(() => undefined);
    return ledger ? { available: ledger.availableBalance, total: ledger.totalBalance } : undefined;
  }

  async close(): Promise<void> {
    this.#closing.abort("shutdown");
    this.#funding.close();
    await Promise.allSettled([...this.#jobs.values()].map((j) => j.promise));
    this.#jobs.clear();
  }

  async #run(
    task: ComputeTask,
    events: BackendSubmitOptions,
    signal: AbortSignal,
  ): Promise<BackendJobResult> {
    const candidates = await this.#directory.candidates(task).catch((err: unknown) => {
      throw new BackendError(
        FailureReason.CHAIN_ERROR,
        "could not read the 0G service registry from the chain",
        {
          cause: err,
        },
      );
    });
    if (candidates.length === 0) {
      throw new BackendError(
        FailureReason.NO_PROVIDER,
        (await this.#directory.refusal(task)) ?? "no provider",
      );
    }
    const failures: string[] = [];
    for (const service of candidates) {
      events.onProvider?.(service.provider);
      try {
        return await this.#runOn(service, task, events, signal);
      } catch (err) {
        if (!signal.aborted && err instanceof BackendError)
          this.#options.observe?.providerError(failureReasonName(err.reason) ?? "unspecified");
        if (signal.aborted || !(err instanceof BackendError) || !err.retryable) throw err;
        failures.push(err.message);
        this.#logger.warn(
          { jobId: events.jobId, provider: service.provider, err: err.message },
          "provider failed; failing over",
        );
      }
    }
    throw new BackendError(
      FailureReason.PROVIDER_UNAVAILABLE,
      `all ${candidates.length} provider(s) of ${task.model} failed: ${failures.join("; ")}`,
    );
  }

  async #runOn(
    service: ServiceRecord,
    task: ComputeTask,
    events: BackendSubmitOptions,
    signal: AbortSignal,
  ): Promise<BackendJobResult> {
    await this.#funding.ready(service.provider).catch((err: unknown) => {
      if (err instanceof BackendError) throw err;
      throw new BackendError(FailureReason.CHAIN_ERROR, `0G chain call failed: ${(err as Error).message}`, {
        cause: err,
        retryable: false,
      });
    });
    const timeoutMs = this.#options.requestTimeoutMs ?? 60_000;
    const requestBody = chatRequestBody(task, service.model);
    const endpoint = `${service.url}/v1/proxy`;
    const started = performance.now();
    const traceparent = this.#options.traceparent?.(events.jobId);
    const stage = (name: string, since: number) =>
      this.#options.observe?.stage(name, (performance.now() - since) / 1000);
    const exchange = await this.#withRetries(signal, async () => {
      const headers = {
        ...(await this.#requestHeaders(service.provider)),
        ...(traceparent ? { traceparent } : {}),
      };
      const onChunk =
        task.inputs?.stream && events.onOutputDelta ? createSseDeltaReader(events.onOutputDelta) : undefined;
      return postChatCompletion(endpoint, requestBody, headers, {
        signal,
        timeoutMs,
        ...(onChunk ? { onChunk } : {}),
      }).catch((err: unknown) => {
        if (err instanceof SessionRejectedError) {
          this.#sessions.delete(service.provider);
          forgetSdkSession(this.#broker, this.#wallet, service.provider);
        }
        throw err;
      });
    });
    this.#directory.recordLatency(service.provider, performance.now() - started);
    stage("provider_request", started);
    events.onProgress?.(0.8);
    const fetching = performance.now();
    const [signature, attestation] = await Promise.all([
      fetchSignature(service.url, exchange.chatId, service.model, { signal, timeoutMs }),
      this.#attestation(service, signal, timeoutMs),
    ]);
    stage("proof_fetch", fetching);
    const verifying = performance.now();
    const timestamp = Math.floor(Date.now() / 1000);
    const signer = expectedSigner(service);
    const check = this.#checkSignature(exchange, signature, signer);
    if (!check.ok) {
      throw new BackendError(
        FailureReason.PROOF_INVALID,
        `the response of provider ${service.provider} does not verify (${check.reason}); its output is withheld`,
      );
    }
    const proof = buildProof({
      exchange,
      signature,
      attestation,
      service,
      signer,
      pubkey: check.pubkey,
      chainId: this.#chainId,
      timestamp,
    });
    if (this.#options.checkProof) {
      const verdict = await this.#options.checkProof(proof, this.#verificationCache);
      if (!verdict.ok) {
        throw new BackendError(
          FailureReason.PROOF_INVALID,
          `the proof of provider ${service.provider} does not verify (${verdict.reason}); its output is withheld`,
        );
      }
    }
    stage("verification", verifying);
    return {
      output: outputFromResponseBody(exchange.responseBody),
      proof,
      usage: this.#usage(exchange, service),
      providerAddress: service.provider,
    };
  }

  /** The SDK's signed session headers, reused for `sessionReuseMs` (making them reads the chain). */
  async #requestHeaders(provider: string): Promise<Record<string, string>> {
    try {
      return await this.#sessions.get(
        provider,
        async () =>
          (await this.#broker.inference.requestProcessor.getHeader(provider)) as unknown as Record<
            string,
            string
          >,
      );
    } catch (err) {
      throw new BackendError(
        FailureReason.CHAIN_ERROR,
        `could not sign a request for ${provider}: the 0G chain call failed`,
        {
          cause: err,
        },
      );
    }
  }

  /** The verifier's content-bound signature check; a malformed signature is a failed check too. */
  #checkSignature(
    exchange: ChatExchange,
    signature: ProviderSignature,
    signer: string,
  ): { ok: true; pubkey: string } | { ok: false; reason: string } {
    try {
      return verifyResponseSignature({
        requestBody: exchange.requestBody,
        responseBody: exchange.responseBody,
        signedText: signature.text,
        signature: signature.signature,
        expectedAddress: signer,
        cache: this.#verificationCache,
      });
    } catch (err) {
      if (err instanceof InvalidInputError) return { ok: false, reason: `malformed ${err.field}` };
      throw err;
    }
  }

  #usage(exchange: ChatExchange, service: ServiceRecord) {
    const u = usageFromResponseBody(exchange.responseBody);
    const prompt = BigInt(u?.prompt_tokens ?? 0);
    const completion = BigInt(u?.completion_tokens ?? 0);
    return create(UsageSchema, {
      promptTokens: prompt,
      completionTokens: completion,
      totalTokens: BigInt(u?.total_tokens ?? 0),
      feeNeuron: (prompt * service.inputPrice + completion * service.outputPrice).toString(),
    });
  }

  /** The provider's attestation, fetched once per TTL and shared by concurrent jobs. */
  #attestation(service: ServiceRecord, signal: AbortSignal, timeoutMs: number): Promise<ProviderAttestation> {
    const value = this.#attestations.get(service.url, () =>
      fetchAttestation(service.url, { signal: this.#closing.signal, timeoutMs }),
    );
    return Promise.race([
      value,
      new Promise<never>((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
      ),
    ]);
  }

  /** Retries retryable failures on one provider with exponential backoff. */
  async #withRetries<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const attempts = this.#options.attemptsPerProvider ?? 2;
    let delay = this.#options.retryBackoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (signal.aborted || !(err instanceof BackendError) || !err.retryable || attempt >= attempts)
          throw err;
        this.#options.observe?.providerError(failureReasonName(err.reason) ?? "unspecified");
        await sleep(delay, signal);
        delay *= 2;
      }
    }
  }
}
