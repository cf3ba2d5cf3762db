import { create } from "@bufbuild/protobuf";
import {
  type ComputeTask,
  FailureReason,
  failureReasonName,
  type Service,
  TaskType,
  UsageSchema,
  VerificationMethod,
  verificationName,
} from "@chaoschain/zerog-core";
import {
  collateralNextUpdate,
  createVerificationCache,
  InvalidInputError,
  normalizeCollateral,
  readResponseBody,
  type SignedUsage,
  verifyResponseSignature,
} from "@chaoschain/zerog-verifier";
import type { Logger } from "pino";
import {
  BackendError,
  type BackendJobResult,
  type ComputeBackend,
  type RunContext,
  type ServiceFilter,
} from "../backend.js";
import { delay, untilAborted } from "../delay.js";
import { QUOTE_CHECK, type QuoteGate, type Verdict } from "../quote-gate.js";
import { inferenceSent, resendRefusal } from "./attempt-policy.js";
import { defaultDatasetPolicy } from "./fine-tuning/dataset-source.js";
import { FineTuningServing } from "./fine-tuning/fine-tuning-contract.js";
import {
  defaultFineTuningOptions,
  type FineTuningOptions,
  FineTuningRunner,
  fineTuningCheckpointOf,
} from "./fine-tuning/fine-tuning-runner.js";
import { fineTuningServiceList, fineTuningServiceType } from "./fine-tuning/select-service.js";
import { defaultFundingPolicy, Funding, type FundingPolicy } from "./funding.js";
import { chatRequestBody, createSseDeltaReader } from "./openai.js";
import { PromiseCache } from "./promise-cache.js";
import {
  buildProof,
  type ProviderEvidence,
  providerEvidence,
  type QuoteCollateralBytes,
  serviceImageDigest,
} from "./proof.js";
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

/** A provider's attestation, admitted by the quote gate, with the collateral its quote was checked against. */
interface Admitted {
  attestation: ProviderAttestation;
  collateral: QuoteCollateralBytes | undefined;
  /** Unix seconds when the collateral stops being current (the admission must be renewed). */
  currentUntil: number;
  /** The evidence its proofs carry, made once for the signer and workload digest last asked for. */
  evidence?: { key: string; value: ProviderEvidence };
}

/** The evidence of an admitted attestation for `signer`, made once and shared by the proofs of its jobs. */
function evidenceOf(admitted: Admitted, signer: string, fallbackDigest: string): ProviderEvidence {
  const key = `${signer}\n${fallbackDigest}`;
  if (admitted.evidence?.key !== key) {
    const value = providerEvidence(admitted.attestation, signer, fallbackDigest, admitted.collateral);
    admitted.evidence = { key, value };
  }
  return admitted.evidence.value;
}

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
  /** How often the on-chain service lists are read again (behind the calls using them), ms. Default 60 000. */
  serviceTtlMs?: number;
  /** How long a provider's attestation is reused, ms. Default 600 000. */
  attestationTtlMs?: number;
  /**
   * How long the SDK's signed session header for a provider is reused, ms. Default 300 000. The SDK's
   * ephemeral tokens live 24 h, but `getRequestHeaders` reads the chain on every call; a token the provider
   * rejects (revoked) is dropped at once and the request retried with a fresh one.
   */
  sessionReuseMs?: number;
  /** Metrics: time in each stage of a run, and each failed provider call by failure reason. */
  observe?: { stage(name: string, seconds: number): void; providerError(reason: string): void } | undefined;
  /** The W3C `traceparent` to send with a job's provider request, when the job has a trace. */
  traceparent?: ((jobId: string) => string | undefined) | undefined;
  /**
   * Admits each provider (its TEE attestation checked with Intel collateral fetched from a PCS / PCCS, under
   * the operator's policy) before it is sent or paid anything, and checks each whole proof before its result
   * is kept. Without it, only the enclave's signatures are checked, and results say the quote was skipped.
   */
  gate?: QuoteGate | undefined;
  /**
   * Call only providers at public addresses: a registry entry whose URL names or resolves to a loopback,
   * private, link-local (cloud metadata) or multicast address is skipped (nothing sent to it). Default: on for
   * testnet and mainnet, off for the devnet (its providers run on 127.0.0.1) and custom networks (which may
   * run providers on the operator's own network).
   */
  publicProviderHostsOnly?: boolean | undefined;
  /** Fine-tuning: where models go, which datasets are accepted, how tasks are followed. */
  fineTuning?: Partial<FineTuningOptions> | undefined;
}

/** Where fine-tuned models go when the options name no directory. */
export const defaultArtifactsDir = ".zerog/artifacts";

/** Failures that are the provider's own (not the chain's, the wallet's or Intel's): it then ranks last a while. */
const providerFaults = new Set([
  FailureReason.PROVIDER_UNAVAILABLE,
  FailureReason.PROVIDER_ERROR,
  FailureReason.PROOF_INVALID,
]);

/**
 * Runs tasks on the 0G Compute Network. Inference goes through the 0G SDK: services discovered on chain,
 * ledger and provider sub-accounts funded, requests signed with the wallet, every response's enclave
 * signature checked against the exact bytes sent and received, and a self-contained proof captured at
 * call time; it fails over to another provider of the same model when one is down. Fine-tuning runs on
 * FineTuningServing providers ({@link FineTuningRunner}), checkpointed so that a restarted bridge resumes it.
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
  /** Passed to every provider call: whether only public addresses may be called. */
  readonly #publicHostsOnly: boolean;
  readonly #fineTuning: FineTuningRunner;
  /** Runs in flight, so that `close()` waits for them. */
  readonly #running = new Set<Promise<unknown>>();
  readonly #attestations: PromiseCache<string, ProviderAttestation>;
  /** Keyed by service URL and expected signer. */
  readonly #admissions: PromiseCache<string, Admitted>;
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
    makeFineTuning: (attestation: ZeroGBackend["attestation"]) => FineTuningRunner,
  ) {
    this.name = `0g-${options.network.name}`;
    this.#options = options;
    this.#publicHostsOnly =
      options.publicProviderHostsOnly ?? ["testnet", "mainnet"].includes(options.network.name);
    this.#broker = broker;
    this.#funding = funding;
    this.#chainId = chainId;
    this.#wallet = wallet;
    this.#logger = options.logger.child({ backend: this.name });
    this.#directory = new ServiceDirectory(broker, options.serviceTtlMs ?? 60_000, {
      onStale: (err, ageMs) =>
        this.#logger.warn(
          { err: (err as Error).message, ageSeconds: Math.round(ageMs / 1000) },
          "could not read the 0G service registry; using the last one read",
        ),
    });
    this.#attestations = new PromiseCache(options.attestationTtlMs ?? 600_000);
    this.#admissions = new PromiseCache(options.attestationTtlMs ?? 600_000);
    this.#sessions = new PromiseCache(options.sessionReuseMs ?? 300_000);
    this.#fineTuning = makeFineTuning((url, signal) => this.attestation(url, signal));
  }

  /** Connects the wallet to the network and returns a ready backend (no transaction is sent yet). */
  static async connect(options: ZeroGBackendOptions): Promise<ZeroGBackend> {
    const { broker, wallet, chain, chainId, contracts } = await connectBroker(
      options.network,
      options.walletKey,
    );
    // One queue for every transaction of the wallet: the SDK has no nonce management.
    const txs = new TxQueue();
    const funding = new Funding({
      broker,
      chain,
      wallet: wallet.address,
      txs,
      policy: { ...defaultFundingPolicy, ...options.funding },
      logger: options.logger,
      gasPrice: options.network.gasPrice,
    });
    const serving = new FineTuningServing({
      fineTuning: contracts.fineTuning,
      ledger: contracts.ledger,
      chain,
      signer: wallet,
      gasPrice: options.network.gasPrice,
    });
    const ft = options.fineTuning ?? {};
    const verificationCache = createVerificationCache();
    const { gate } = options;
    const makeFineTuning = (attestation: ZeroGBackend["attestation"]) =>
      new FineTuningRunner({
        serving,
        wallet,
        chainId,
        txs,
        ensureLedger: () => funding.ledgerReady(),
        attestation,
        checkAttestation:
          gate && ((att, signer) => verdictOf(gate.admit(att, signer, signer, verificationCache))),
        collateral: gate && ((att, signer) => gate.admit(att, signer, signer, verificationCache)),
        checkProof: gate && ((proof) => gate.checkProof(proof, verificationCache)),
        logger: options.logger.child({ backend: `0g-${options.network.name}`, task: "fine-tuning" }),
        options: {
          ...defaultFineTuningOptions,
          requestTimeoutMs: options.requestTimeoutMs ?? defaultFineTuningOptions.requestTimeoutMs,
          serviceTtlMs: options.serviceTtlMs ?? defaultFineTuningOptions.serviceTtlMs,
          ...ft,
          artifactsDir: ft.artifactsDir ?? defaultArtifactsDir,
          dataset: { ...defaultDatasetPolicy, ...ft.dataset },
        },
      });
    options.logger.info(
      { network: options.network.name, chainId: Number(chainId), wallet: wallet.address },
      "connected to 0G",
    );
    return new ZeroGBackend(options, broker, funding, chainId, wallet.address, makeFineTuning);
  }

  /**
   * Services on offer: the inference services, or with `serviceType` "fine-tuning" the base models of the
   * fine-tuning providers (one service each).
   */
  async listServices(filter: ServiceFilter = {}): Promise<Service[]> {
    if (filter.serviceType !== fineTuningServiceType) return this.#directory.list(filter);
    return fineTuningServiceList(await this.#fineTuning.services(), filter);
  }

  async check(task: ComputeTask): Promise<string | undefined> {
    if (task.taskType === TaskType.FINE_TUNING || task.taskType === TaskType.TRAINING) {
      return this.#fineTuning.check(task);
    }
    const refusal = await this.#directory.refusal(task);
    if (refusal || task.verification === VerificationMethod.TEE_ML) return refusal;
    // Offered, but this bridge can only check TEE proofs: never return a result it cannot verify.
    return (
      `${verificationName(task.verification)} providers offer ${JSON.stringify(task.model)}, but this bridge can ` +
      "only verify tee-ml proofs; submit with verification tee-ml"
    );
  }

  run(task: ComputeTask, ctx: RunContext): Promise<BackendJobResult> {
    const signal = AbortSignal.any([ctx.signal, this.#closing.signal]);
    const checks = this.#options.gate?.checks;
    // Every result has had its enclave signatures checked; its quote, unless the gate skips (or is absent).
    const withChecks = (result: BackendJobResult): BackendJobResult => ({
      ...result,
      bridgeChecks: {
        signatureVerified: true,
        quoteVerified: checks?.quoteVerified ?? false,
        skipped: checks?.skipped ?? [QUOTE_CHECK],
        rootCaSha256: checks?.rootCaSha256 ?? "",
      },
    });
    const running = (
      task.taskType === TaskType.INFERENCE
        ? this.#run(task, ctx, signal)
        : this.#fineTuning.run(task, {
            jobId: ctx.jobId,
            signal,
            progress: (update) => ctx.progress(update),
            checkpoint: (state) => ctx.checkpoint({ ...state }),
            resumeFrom: fineTuningCheckpointOf(ctx.resumeFrom),
          })
    ).then(withChecks);
    this.#running.add(running);
    const forget = () => this.#running.delete(running);
    running.then(forget, forget);
    return running;
  }

  /** The wallet's 0G compute ledger (neuron), or undefined when it has none yet. */
  async ledgerBalance(): Promise<{ available: bigint; total: bigint } | undefined> {
    const ledger = await this.#broker.ledger.getLedger().catch(() => undefined);
    return ledger ? { available: ledger.availableBalance, total: ledger.totalBalance } : undefined;
  }

  async close(): Promise<void> {
    this.#closing.abort("shutdown");
    this.#funding.close();
    await Promise.allSettled(this.#running);
  }

  /** A provider's attestation (`GET /v1/quote`), fetched once per TTL and shared by concurrent jobs. */
  attestation(url: string, signal: AbortSignal): Promise<ProviderAttestation> {
    const timeoutMs = this.#options.requestTimeoutMs ?? 60_000;
    const value = this.#attestations.get(url, () =>
      fetchAttestation(url, {
        signal: this.#closing.signal,
        timeoutMs,
        publicHostsOnly: this.#publicHostsOnly,
      }),
    );
    return untilAborted(value, signal);
  }

  async #run(task: ComputeTask, ctx: RunContext, signal: AbortSignal): Promise<BackendJobResult> {
    const refusal = resendRefusal(ctx.resumeFrom);
    if (refusal) throw refusal;
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
    const failures: BackendError[] = [];
    for (const service of candidates) {
      ctx.progress({ provider: service.provider });
      try {
        return await this.#runOn(service, task, ctx, signal);
      } catch (err) {
        if (!signal.aborted && err instanceof BackendError) {
          this.#options.observe?.providerError(failureReasonName(err.reason) ?? "unspecified");
          if (providerFaults.has(err.reason)) this.#directory.recordFailure(service.provider);
        }
        if (signal.aborted || !(err instanceof BackendError) || !err.retryable) throw err;
        failures.push(err);
        this.#logger.warn(
          { jobId: ctx.jobId, provider: service.provider, err: err.message },
          "provider failed; failing over",
        );
      }
    }
    // Every provider refused for its TEE evidence, or every one needed the chain while it was down: the
    // job fails for that, not for availability.
    const [first] = failures;
    const shared = failures.every((f) => f.reason === first?.reason) ? first?.reason : undefined;
    throw new BackendError(
      shared === FailureReason.PROOF_INVALID || shared === FailureReason.CHAIN_ERROR
        ? shared
        : FailureReason.PROVIDER_UNAVAILABLE,
      `all ${candidates.length} provider(s) of ${task.model} failed: ${failures.map((f) => f.message).join("; ")}`,
    );
  }

  async #runOn(
    service: ServiceRecord,
    task: ComputeTask,
    ctx: RunContext,
    signal: AbortSignal,
  ): Promise<BackendJobResult> {
    const timeoutMs = this.#options.requestTimeoutMs ?? 60_000;
    const signer = expectedSigner(service);
    const stage = (name: string, since: number) =>
      this.#options.observe?.stage(name, (performance.now() - since) / 1000);
    // Before the provider is paid or sent anything (acknowledging its TEE signer opens a sub-account with
    // 1 0G, and top-ups follow the unsettled fee it reports): its attestation checked with current Intel collateral.
    const admitting = performance.now();
    const admitted = await this.#admitted(service, signer, signal);
    stage("admission", admitting);
    await this.#funding.ready(service.provider).catch((err: unknown) => {
      if (err instanceof BackendError) throw err;
      // Nothing was sent to this provider: another one (funded already) may still serve the job.
      throw new BackendError(FailureReason.CHAIN_ERROR, `0G chain call failed: ${(err as Error).message}`, {
        cause: err,
        retryable: true,
      });
    });
    const requestBody = chatRequestBody(task, service.model);
    const endpoint = `${service.url}/v1/proxy`;
    const started = performance.now();
    const traceparent = this.#options.traceparent?.(ctx.jobId);
    const exchange = await this.#withRetries(signal, async () => {
      const headers = {
        ...(await this.#requestHeaders(service.provider)),
        ...(traceparent ? { traceparent } : {}),
      };
      const onChunk = task.inputs?.stream
        ? createSseDeltaReader((delta) => ctx.outputDelta(delta))
        : undefined;
      // On disk before the request leaves: a later attempt must know it may have been charged.
      await ctx.checkpoint(inferenceSent(service.provider));
      return postChatCompletion(endpoint, requestBody, headers, {
        signal,
        timeoutMs,
        publicHostsOnly: this.#publicHostsOnly,
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
    ctx.progress({ progress: 0.8 });
    const fetching = performance.now();
    const signature = await fetchSignature(service.url, exchange.chatId, service.model, {
      signal,
      timeoutMs,
      publicHostsOnly: this.#publicHostsOnly,
    });
    stage("proof_fetch", fetching);
    const verifying = performance.now();
    const timestamp = Math.floor(Date.now() / 1000);
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
      evidence: evidenceOf(admitted, signer, serviceImageDigest(service)),
      service,
      signer,
      pubkey: check.pubkey,
      chainId: this.#chainId,
      timestamp,
    });
    if (this.#options.gate) {
      const verdict = await this.#options.gate.checkProof(proof, this.#verificationCache);
      if (!verdict.ok) {
        throw new BackendError(
          FailureReason.PROOF_INVALID,
          `the proof of provider ${service.provider} does not verify (${verdict.reason}); its output is withheld`,
        );
      }
    }
    stage("verification", verifying);
    // Output and token counts read once, by the verifier's rules: what a client checking the proof reads.
    const response = readResponseBody(exchange.responseBody);
    return {
      output: response.output,
      proof,
      usage: this.#usage(response.usage, service),
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
        // Nothing was sent: retried, then another provider (its session at hand) may serve the job.
        { cause: err, retryable: true },
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

  #usage(u: SignedUsage | undefined, service: ServiceRecord) {
    const prompt = BigInt(u?.promptTokens ?? 0);
    const completion = BigInt(u?.completionTokens ?? 0);
    return create(UsageSchema, {
      promptTokens: prompt,
      completionTokens: completion,
      totalTokens: BigInt(u?.totalTokens ?? 0),
      feeNeuron: (prompt * service.inputPrice + completion * service.outputPrice).toString(),
    });
  }

  /**
   * The provider's attestation admitted by the quote gate (collateral fetched, attestation verified), once
   * per TTL (a refusal is not kept) and shared by concurrent jobs; renewed once its collateral is no longer
   * current.
   */
  #admitted(service: ServiceRecord, signer: string, signal: AbortSignal): Promise<Admitted> {
    const make = async (): Promise<Admitted> => {
      const attestation = await this.attestation(service.url, this.#closing.signal);
      const collateral = await this.#options.gate?.admit(
        attestation,
        signer,
        service.provider,
        this.#verificationCache,
      );
      const currentUntil = collateral
        ? collateralNextUpdate(normalizeCollateral(collateral))
        : Number.POSITIVE_INFINITY;
      return { attestation, collateral, currentUntil };
    };
    // Per URL and signer: another registry entry naming the same URL with its own signer is checked anew.
    const key = `${service.url}\n${signer.toLowerCase()}`;
    const value = this.#admissions.get(key, make).then((admitted) => {
      // Collateral that passed its nextUpdate while cached would fail every proof: admit afresh.
      if (admitted.currentUntil > Date.now() / 1000) return admitted;
      this.#admissions.delete(key);
      return this.#admissions.get(key, make);
    });
    return untilAborted(value, signal);
  }

  /** Retries retryable failures on one provider with exponential backoff. */
  async #withRetries<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    const attempts = this.#options.attemptsPerProvider ?? 2;
    let wait = this.#options.retryBackoffMs ?? 200;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (signal.aborted || !(err instanceof BackendError) || !err.retryable || attempt >= attempts)
          throw err;
        this.#options.observe?.providerError(failureReasonName(err.reason) ?? "unspecified");
        await delay(wait, signal);
        wait *= 2;
      }
    }
  }
}

/** An admission as a verdict: refused (proof_invalid) is a "no"; anything else (collateral_unavailable) throws. */
async function verdictOf(admission: Promise<unknown>): Promise<Verdict> {
  try {
    await admission;
    return { ok: true };
  } catch (err) {
    if (err instanceof BackendError && err.reason === FailureReason.PROOF_INVALID)
      return { ok: false, reason: err.message };
    throw err;
  }
}
