import {
  type ComputeProof,
  type ComputeTask,
  FailureReason,
  type FieldViolation,
  invalidArgument,
  ReportDataBinding,
  TaskType,
} from "@chaoschain/zerog-core";
import { formatEther, parseEther, type Wallet } from "ethers";
import type { Logger } from "pino";
import { BackendError, type BackendJobResult } from "../../backend.js";
import { delay } from "../../delay.js";
import { type QuoteCollateralBytes, teeEvidence } from "../proof.js";
import type { ProviderAttestation } from "../provider-http.js";
import { RefreshingValue } from "../refreshing-value.js";
import type { TxQueue } from "../tx-queue.js";
import {
  type DatasetPolicy,
  type DatasetSource,
  type LoadedDataset,
  loadDataset,
  parseDatasetSource,
} from "./dataset-source.js";
import { deliverModel } from "./deliver-model.js";
import type { FineTuningService, FineTuningServing } from "./fine-tuning-contract.js";
import { KeyedLock } from "./keyed-lock.js";
import { FineTuningProviderClient, NotCancellableError, type ProviderTask } from "./provider-client.js";
import { isTaskId } from "./request-signatures.js";
import { baseModelsOnOffer, selectServices } from "./select-service.js";
import { deliveredStates, type JobProgress, taskProgress } from "./task-progress.js";
import { trainingParams } from "./training-params.js";

/**
 * What a fine-tuning job records durably as it goes, so that a restarted bridge resumes it without a
 * second task or a second payment: the provider, what was funded, the dataset hash, the task's nonce
 * (written before the task is created), its id and last state, and whether the delivery was acknowledged.
 */
export interface FineTuningCheckpoint {
  kind: "fine-tuning";
  provider: string;
  /** Neuron this job moved from the ledger into the provider sub-account. */
  funded: string;
  datasetHash?: string | undefined;
  datasetSha256?: string | undefined;
  trainingParams?: string | undefined;
  baseModelHash?: string | undefined;
  /** The task nonce, recorded before the task is created (finds a task created just before a crash). */
  nonce?: string | undefined;
  /** Chain height before the task was created: where the settlement search starts. */
  fromBlock?: number | undefined;
  /**
   * When the task was about to be created (ms since the epoch): the run's deadline (`maxRunMs`) counts
   * from it, across restarts.
   */
  startedAt?: number | undefined;
  taskId?: string | undefined;
  /** The provider's last reported state. */
  status?: string | undefined;
  acknowledged?: boolean | undefined;
}

/**
 * A stored checkpoint read back as a fine-tuning one; undefined when it is none (another kind, or fields of
 * the wrong type), so that a damaged checkpoint never drives a payment or a task.
 */
export function fineTuningCheckpointOf(value: unknown): FineTuningCheckpoint | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const c = value as Record<string, unknown>;
  const optional = (key: string, type: "string" | "number" | "boolean") =>
    c[key] === undefined || typeof c[key] === type;
  const ok =
    c.kind === "fine-tuning" &&
    typeof c.provider === "string" &&
    /^0x[0-9a-fA-F]{40}$/.test(c.provider) &&
    typeof c.funded === "string" &&
    /^\d{1,78}$/.test(c.funded) &&
    (c.nonce === undefined || (typeof c.nonce === "string" && /^\d{1,78}$/.test(c.nonce))) &&
    (c.taskId === undefined || isTaskId(c.taskId)) &&
    ["datasetHash", "datasetSha256", "trainingParams", "baseModelHash", "status"].every((k) =>
      optional(k, "string"),
    ) &&
    optional("fromBlock", "number") &&
    (c.startedAt === undefined || Number.isSafeInteger(c.startedAt)) &&
    optional("acknowledged", "boolean");
  return ok ? (c as unknown as FineTuningCheckpoint) : undefined;
}

/** What the bridge's worker gives a running fine-tuning job. */
export interface FineTuningRunContext {
  jobId: string;
  /** Aborted with "cancelled" (the client cancelled: the provider task is cancelled too when it still can be) or "shutdown". */
  signal: AbortSignal;
  progress(update: JobProgress & { provider?: string }): void;
  /** Stores the state durably before the job goes on. */
  checkpoint(state: FineTuningCheckpoint): void | Promise<void>;
  /** The last checkpoint of a previous run of this job (after a bridge restart). */
  resumeFrom: FineTuningCheckpoint | undefined;
}

export interface FineTuningOptions {
  /** Where decrypted models are written (`<dir>/<job id>/`), created 0700. */
  artifactsDir: string;
  dataset: DatasetPolicy;
  /** How often a running task's state is read, ms. Default 5 000. */
  pollIntervalMs: number;
  /** Per provider call, ms. Default 60 000. */
  requestTimeoutMs: number;
  /** How long a provider may stay unreachable while its task runs before the job fails, ms. Default 15 min. */
  providerOutageMs: number;
  /** How long to wait for the provider's settlement after the acknowledgement, ms. Default 1 h. */
  settlementTimeoutMs: number;
  /**
   * Longest run of a task at its provider, from its creation to its delivery, ms (restarts included);
   * then it is cancelled there when 0G still allows it and the job fails. Default 24 h.
   */
  maxRunMs: number;
  /** Longest download of the trained model, retries included, ms. Default 2 h. */
  downloadTimeoutMs: number;
  /** Largest encrypted model downloaded, bytes. Default 16 GiB. */
  maxModelBytes: number;
  /** Funded into the sub-account for a 0G Storage dataset, whose size the bridge cannot see, neuron. Default 1 0G. */
  rootHashDeposit: bigint;
  /** How long the on-chain service list is reused, ms. Default 60 000. */
  serviceTtlMs: number;
}

export const defaultFineTuningOptions: Omit<FineTuningOptions, "artifactsDir" | "dataset"> = {
  pollIntervalMs: 5_000,
  requestTimeoutMs: 60_000,
  providerOutageMs: 15 * 60_000,
  settlementTimeoutMs: 3_600_000,
  maxRunMs: 24 * 3_600_000,
  downloadTimeoutMs: 2 * 3_600_000,
  maxModelBytes: 16 * 1024 ** 3,
  rootHashDeposit: parseEther("1"),
  serviceTtlMs: 60_000,
};

export interface FineTuningRunnerDeps {
  serving: FineTuningServing;
  wallet: Wallet;
  chainId: bigint;
  /** The wallet's one transaction queue (shared with inference). */
  txs: TxQueue;
  /** Creates the 0G ledger when missing (shared with inference). */
  ensureLedger: () => Promise<void>;
  /** The provider's `/v1/quote`, cached. */
  attestation: (url: string, signal: AbortSignal) => Promise<ProviderAttestation>;
  /**
   * The operator's check of a provider's attestation (quote to the trusted root, TCB, workload), run before
   * anything is paid or uploaded; undefined checks only that the report data binds the TEE signer.
   */
  checkAttestation?: ((attestation: ProviderAttestation, teeSigner: string) => Promise<Verdict>) | undefined;
  /** The Intel collateral a provider's quote was checked against, to embed in its proof (`tee.collateral`). */
  collateral?:
    | ((attestation: ProviderAttestation, teeSigner: string) => Promise<QuoteCollateralBytes | undefined>)
    | undefined;
  /** The operator's check of the finished proof (the offline verifier with its policy). */
  checkProof?: ((proof: ComputeProof) => Promise<Verdict>) | undefined;
  logger: Logger;
  options: FineTuningOptions;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

/** The contract's smallest transfer into a sub-account (`MIN_TRANSFER_AMOUNT`). */
const minTransfer = parseEther("1");

/** Base models SDK 0.9.0 knows by name (`fine-tuning/const.js` MODEL_HASH_MAP); others come from `GET /v1/model/<name>`. */
const predefinedModels: Record<string, string> = {
  "Qwen2.5-0.5B-Instruct": "0xb4f76a886b8655c92bb021922d60b5e4d9271a5c9da98b6cb10937a06c2c75a7",
  "Qwen3-32B": "0x2e6f9620c35bdcb2b753cc7aa34e78077a8ed133e36fa36008fd6bdfd29af3a5",
};

const invalidInput = (message: string) => new BackendError(FailureReason.INVALID_INPUT, message);
const providerError = (message: string, cause?: unknown) =>
  new BackendError(FailureReason.PROVIDER_ERROR, message, cause === undefined ? {} : { cause });

/**
 * Runs 0G fine-tuning tasks for the bridge: refuses at submit what can never run (training, unknown base
 * models, bad datasets or parameters), then per job picks a provider, checks the dataset before spending
 * anything, funds and acknowledges the sub-account, uploads, creates the task, follows it to delivery
 * (reporting progress and checkpointing), verifies and decrypts the model, and returns its artifact
 * reference with a proof. Resumes from a checkpoint after a restart.
 */
export class FineTuningRunner {
  readonly #d: FineTuningRunnerDeps;
  readonly #services: RefreshingValue<FineTuningService[]>;
  readonly #locks = new KeyedLock();

  constructor(deps: FineTuningRunnerDeps) {
    this.#d = deps;
    this.#services = new RefreshingValue(() => deps.serving.services(), {
      ttlMs: deps.options.serviceTtlMs,
      toError: (err) =>
        new BackendError(
          FailureReason.CHAIN_ERROR,
          "could not read the 0G fine-tuning services from the chain",
          { cause: err },
        ),
      onStale: (err, ageMs) =>
        deps.logger.warn(
          { err: (err as Error).message, ageSeconds: Math.round(ageMs / 1000) },
          "could not read the 0G fine-tuning services; using the last ones read",
        ),
    });
  }

  /** FineTuningServing's services, read again every `serviceTtlMs` behind the calls that use them. */
  services(): Promise<FineTuningService[]> {
    return this.#services.get();
  }

  /**
   * Refuses at submit a task that can never run: throws `invalid_argument` for bad fields (dataset form or
   * content when inline or a file, training parameters); returns why no provider can run it (training, an
   * unknown base model, resources); undefined when it can run.
   */
  async check(task: ComputeTask): Promise<string | undefined> {
    const violations: FieldViolation[] = [];
    const datasetField = "task.inputs.dataset";
    const parsed = parseDatasetSource(task.inputs?.dataset ?? "", this.#d.options.dataset);
    if (!parsed.ok)
      violations.push({ field: datasetField, reason: parsed.reason, description: parsed.description });
    const params = trainingParams(task.inputs?.extras);
    if (!params.ok) violations.push(...params.violations);
    if (violations.length) throw invalidArgument(violations);
    const selected = selectServices(await this.services(), task);
    if (!selected.ok) return selected.refusal;
    if (parsed.ok && (parsed.source.kind === "inline" || parsed.source.kind === "file")) {
      const loaded = await loadDataset(parsed.source, this.#d.options.dataset, AbortSignal.timeout(60_000));
      if (!loaded.ok)
        throw invalidArgument([
          { field: datasetField, reason: "INVALID_VALUE", description: loaded.problem },
        ]);
    }
    return undefined;
  }

  /** Runs (or resumes) a fine-tuning job to its verified, decrypted model. */
  async run(task: ComputeTask, ctx: FineTuningRunContext): Promise<BackendJobResult> {
    if (task.taskType !== TaskType.FINE_TUNING)
      throw new BackendError(FailureReason.UNSUPPORTED, "not a fine-tuning task");
    const services = await this.services();
    const resumed = ctx.resumeFrom?.kind === "fine-tuning" ? ctx.resumeFrom : undefined;
    const service = resumed
      ? services.find((s) => s.provider.toLowerCase() === resumed.provider.toLowerCase())
      : await this.#choose(services, task, ctx.signal);
    if (!service) {
      throw new BackendError(
        FailureReason.PROVIDER_UNAVAILABLE,
        `provider ${resumed?.provider} no longer offers fine-tuning on chain`,
      );
    }
    ctx.progress({
      progress: 0.01,
      stage: "",
      message: `provider ${service.provider} chosen`,
      provider: service.provider,
    });
    const release = await this.#locks.acquire(service.provider.toLowerCase(), ctx.signal, () =>
      ctx.progress({
        progress: 0.01,
        stage: "",
        message: `waiting for this wallet's previous fine-tuning task on ${service.provider} (0G runs one task per user)`,
      }),
    );
    try {
      return await new Job(this.#d, service, task, ctx, resumed).run();
    } finally {
      release();
    }
  }

  /**
   * The first candidate whose provider answers and whose attestation binds its registered TEE signer (and
   * passes the operator's check): nothing is paid or uploaded to a provider before that.
   */
  async #choose(
    services: FineTuningService[],
    task: ComputeTask,
    signal: AbortSignal,
  ): Promise<FineTuningService> {
    const selected = selectServices(services, task);
    if (!selected.ok) throw new BackendError(FailureReason.NO_PROVIDER, selected.refusal);
    const unreachable: string[] = [];
    const unattested: string[] = [];
    for (const service of selected.services) {
      let attestation: ProviderAttestation;
      try {
        attestation = await this.#d.attestation(service.url, signal);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        unreachable.push(`${service.provider}: ${(err as Error).message}`);
        continue;
      }
      const binding = teeEvidence(attestation, service.teeSignerAddress).tee.reportDataBinding;
      const verdict: Verdict =
        binding === ReportDataBinding.UNSPECIFIED
          ? {
              ok: false,
              reason: `its attestation does not bind its registered TEE signer ${service.teeSignerAddress}`,
            }
          : ((await this.#d.checkAttestation?.(attestation, service.teeSignerAddress)) ?? { ok: true });
      if (verdict.ok) return service;
      unattested.push(`${service.provider}: ${verdict.reason}`);
      this.#d.logger.warn(
        { provider: service.provider, reason: verdict.reason },
        "fine-tuning provider's attestation refused",
      );
    }
    if (unattested.length > 0 && unreachable.length === 0) {
      throw new BackendError(
        FailureReason.PROOF_INVALID,
        `no fine-tuning provider of ${task.model} has an attestation that verifies (nothing was paid): ${unattested.join("; ")}`,
      );
    }
    throw new BackendError(
      FailureReason.PROVIDER_UNAVAILABLE,
      `no fine-tuning provider of ${task.model} answered: ${[...unreachable, ...unattested].join("; ")}`,
    );
  }

  /** Base models on offer, for messages. */
  async baseModels(): Promise<string[]> {
    return baseModelsOnOffer(await this.services());
  }
}

/** One run of one job on one provider. */
class Job {
  readonly #d: FineTuningRunnerDeps;
  readonly #service: FineTuningService;
  readonly #task: ComputeTask;
  readonly #ctx: FineTuningRunContext;
  readonly #client: FineTuningProviderClient;
  #cp: FineTuningCheckpoint;
  #shown: JobProgress | undefined;

  constructor(
    deps: FineTuningRunnerDeps,
    service: FineTuningService,
    task: ComputeTask,
    ctx: FineTuningRunContext,
    resumed: FineTuningCheckpoint | undefined,
  ) {
    this.#d = deps;
    this.#service = service;
    this.#task = task;
    this.#ctx = ctx;
    this.#client = new FineTuningProviderClient({
      url: service.url,
      user: deps.wallet.address,
      key: deps.wallet.signingKey,
      timeoutMs: deps.options.requestTimeoutMs,
    });
    this.#cp = resumed ?? { kind: "fine-tuning", provider: service.provider, funded: "0" };
  }

  async run(): Promise<BackendJobResult> {
    const log = this.#d.logger.child({ jobId: this.#ctx.jobId, provider: this.#service.provider });
    try {
      if (!this.#cp.taskId) await this.#start();
      // A checkpoint written before run deadlines existed: its clock starts now.
      else if (this.#cp.startedAt === undefined) await this.#save({ startedAt: Date.now() });
      const task = await this.#follow(log);
      return await deliverModel({
        deps: this.#d,
        service: this.#service,
        client: this.#client,
        ctx: this.#ctx,
        checkpoint: this.#cp,
        save: (patch) => this.#save(patch),
        show: (p) => this.#show(p),
        baseModel: this.#task.model,
        providerFee: task.fee,
      });
    } catch (err) {
      if (this.#ctx.signal.aborted && this.#ctx.signal.reason === "cancelled")
        await this.#cancelAtProvider(log);
      throw err;
    }
  }

  async #save(patch: Partial<FineTuningCheckpoint>): Promise<void> {
    this.#cp = { ...this.#cp, ...patch };
    await this.#ctx.checkpoint(this.#cp);
  }

  #show(p: JobProgress): void {
    if (this.#shown && p.stage === this.#shown.stage && p.message === this.#shown.message) return;
    this.#shown = p;
    this.#ctx.progress(p);
  }

  /** Everything up to the task's creation: dataset, parameters, funding, upload, task. */
  async #start(): Promise<void> {
    const { options } = this.#d;
    const { signal } = this.#ctx;
    const params = trainingParams(this.#task.inputs?.extras);
    if (!params.ok)
      throw invalidInput(`bad training parameters: ${params.violations.map((v) => v.field).join(", ")}`);
    const parsed = parseDatasetSource(this.#task.inputs?.dataset ?? "", options.dataset);
    if (!parsed.ok) throw invalidInput(`task.inputs.dataset: ${parsed.description}`);
    // The dataset is read and checked before anything is spent.
    this.#show({ progress: 0.02, stage: "", message: "checking the dataset" });
    const dataset = await this.#dataset(parsed.source, signal);
    if (this.#cp.nonce) {
      // A previous run recorded a nonce: the task may exist already.
      const found = await this.#findTask(BigInt(this.#cp.nonce), signal);
      if (found) return this.#save({ taskId: found.id, status: found.progress });
    }
    await this.#fund(
      dataset
        ? BigInt(dataset.bytes.length) * this.#service.pricePerToken * BigInt(params.epochs)
        : options.rootHashDeposit,
    );
    let datasetHash = this.#cp.datasetHash;
    if (!datasetHash) {
      if (dataset) {
        this.#show({
          progress: 0.03,
          stage: "",
          message: `uploading the dataset (${dataset.bytes.length} bytes) to the provider`,
        });
        datasetHash = await this.#retrying(() =>
          this.#client.uploadDataset(dataset.bytes, dataset.fileName, signal),
        );
      } else {
        datasetHash = (parsed.source as Extract<DatasetSource, { kind: "root-hash" }>).rootHash;
      }
      await this.#save({ datasetHash, datasetSha256: dataset?.sha256 ?? "", trainingParams: params.json });
    }
    const baseModelHash = await this.#baseModelHash(signal);
    const pending = await this.#retrying(() => this.#client.pendingTasks(signal));
    const account = await this.#d.serving.account(this.#service.provider);
    const nonce = maxBigInt(BigInt(Date.now()) * 10_000n, (account?.nonce ?? 0n) + 1n);
    await this.#save({
      nonce: nonce.toString(),
      baseModelHash,
      fromBlock: await this.#d.serving.blockNumber(),
      startedAt: this.#cp.startedAt ?? Date.now(),
    });
    this.#show({ progress: 0.04, stage: "", message: "creating the task" });
    const taskId = await this.#client
      .createTask(
        {
          datasetHash,
          trainingParams: params.json,
          preTrainedModelHash: baseModelHash,
          nonce,
          wait: pending > 0,
        },
        signal,
      )
      .catch((err: unknown) => {
        if (err instanceof BackendError && /unfinished task/i.test(err.message)) {
          throw providerError(
            `provider ${this.#service.provider} still runs another fine-tuning task of this wallet (0G allows one per user); ` +
              "wait for it to finish or use another provider",
            err,
          );
        }
        throw err;
      });
    await this.#save({ taskId, status: "Init" });
    this.#d.logger.info(
      { jobId: this.#ctx.jobId, provider: this.#service.provider, taskId },
      "fine-tuning task created",
    );
  }

  async #dataset(source: DatasetSource, signal: AbortSignal): Promise<LoadedDataset | undefined> {
    if (source.kind === "root-hash") return undefined;
    const loaded = await loadDataset(source, this.#d.options.dataset, signal);
    if (!loaded.ok) throw invalidInput(`the dataset was refused before anything was paid: ${loaded.problem}`);
    if (this.#cp.datasetSha256 && this.#cp.datasetSha256 !== loaded.dataset.sha256 && !this.#cp.taskId) {
      // Changed since the previous run uploaded it: upload the new bytes.
      this.#cp = { ...this.#cp, datasetHash: undefined };
    }
    return loaded.dataset;
  }

  /**
   * Makes the sub-account hold `estimate` (available balance, after pending refunds), moving at least the
   * contract's 1 0G minimum from the ledger, and acknowledges the provider's TEE signer. Checks the
   * ledger first: a job that cannot be paid fails before any transaction.
   */
  async #fund(estimate: bigint): Promise<void> {
    const { serving, txs } = this.#d;
    const provider = this.#service.provider;
    this.#show({ progress: 0.02, stage: "", message: "funding the provider sub-account" });
    await this.#d.ensureLedger();
    let account = await serving.account(provider);
    const available = account ? account.balance - account.pendingRefund : 0n;
    if (available < estimate) {
      const amount = maxBigInt(estimate - available, minTransfer);
      const ledger = (await serving.ledgerAvailable()) ?? 0n;
      if (ledger < amount) {
        throw new BackendError(
          FailureReason.INSUFFICIENT_BALANCE,
          `this fine-tuning task may cost up to ${formatEther(estimate)} 0G; the sub-account with ${provider} holds ` +
            `${formatEther(available)} 0G and the ledger has ${formatEther(ledger)} 0G available: deposit at least ` +
            `${formatEther(amount - ledger)} 0G into the ledger`,
        );
      }
      await txs.run(() => serving.transferToProvider(provider, amount));
      await this.#save({ funded: (BigInt(this.#cp.funded) + amount).toString() });
      account = await serving.account(provider);
    }
    if (account && !account.acknowledged) await txs.run(() => serving.acknowledgeTeeSigner(provider));
  }

  async #baseModelHash(signal: AbortSignal): Promise<string> {
    if (this.#cp.baseModelHash) return this.#cp.baseModelHash;
    const known = Object.hasOwn(predefinedModels, this.#task.model)
      ? predefinedModels[this.#task.model]
      : undefined;
    if (known) return known;
    return this.#retrying(() => this.#client.customizedModelHash(this.#task.model, signal));
  }

  async #findTask(nonce: bigint, signal: AbortSignal): Promise<ProviderTask | undefined> {
    const tasks = await this.#retrying(() => this.#client.listTasks(signal));
    return tasks.find((t) => t.nonce === nonce.toString());
  }

  /**
   * Polls the task until the provider has delivered; fails with the provider's log when it fails, and
   * when it is not delivered `maxRunMs` after its start.
   */
  async #follow(logger: Logger): Promise<ProviderTask> {
    const { signal } = this.#ctx;
    const { pollIntervalMs, maxRunMs } = this.#d.options;
    const id = this.#cp.taskId as string;
    const deadline = (this.#cp.startedAt ?? Date.now()) + maxRunMs;
    const nextPoll = () => delay(Math.max(0, Math.min(pollIntervalMs, deadline - Date.now())), signal);
    let outageSince: number | undefined;
    for (;;) {
      let task: ProviderTask;
      try {
        task = await this.#client.getTask(id, signal);
        outageSince = undefined;
      } catch (err) {
        if (signal.aborted || !(err instanceof BackendError) || !err.retryable) throw err;
        if (Date.now() >= deadline) throw await this.#expire(id, logger);
        outageSince ??= Date.now();
        if (Date.now() - outageSince > this.#d.options.providerOutageMs) {
          throw new BackendError(
            FailureReason.PROVIDER_UNAVAILABLE,
            `provider ${this.#service.provider} has been unreachable for ${Math.round((Date.now() - outageSince) / 1000)} s while task ${id} ran (last state ${this.#cp.status})`,
            { cause: err },
          );
        }
        await nextPoll();
        continue;
      }
      if (task.progress !== this.#cp.status) await this.#save({ status: task.progress });
      if (task.progress === "Failed") {
        this.#show({
          progress: this.#shown?.progress ?? 0,
          stage: "Failed",
          message: "failed at the provider",
        });
        const lines = (await this.#client.taskLog(id, signal).catch(() => "")).trim().split("\n");
        const last = (lines.at(-1) ?? "").replace(/[^\x20-\x7e]/g, "").slice(0, 300);
        throw providerError(
          `fine-tuning task ${id} failed at provider ${this.#service.provider}${last ? `: ${last}` : ""}`,
        );
      }
      const log = task.progress === "Training" ? await this.#client.taskLog(id, signal).catch(() => "") : "";
      this.#show(taskProgress(task.progress, log, this.#shown));
      if (deliveredStates.has(task.progress)) return task;
      if (Date.now() >= deadline) throw await this.#expire(id, logger);
      await nextPoll();
    }
  }

  /** The task outran `maxRunMs`: cancels it while 0G still allows it; the error the job fails with. */
  async #expire(id: string, log: Logger): Promise<BackendError> {
    const lastState = this.#cp.status ?? "unknown";
    const outcome = await this.#cancelAtProvider(log);
    const after =
      outcome === "cancelled"
        ? "it was cancelled at the provider; nothing more is paid"
        : outcome === "not-cancellable"
          ? "0G no longer lets it be cancelled (past SetUp): the bridge will not acknowledge its delivery, so the " +
            "provider can settle at most 0G's penalty share of its fee"
          : "cancelling it at the provider failed: the bridge will not acknowledge its delivery, so the provider " +
            "can settle at most 0G's penalty share of its fee";
    return new BackendError(
      FailureReason.PROVIDER_UNAVAILABLE,
      `fine-tuning task ${id} was not delivered by provider ${this.#service.provider} within ` +
        `${Math.round(this.#d.options.maxRunMs / 1000)} s of its start (the bridge's --fine-tuning-max-run; last ` +
        `state ${lastState}); ${after}`,
    );
  }

  /** Cancels the provider task while 0G still allows it (Init, SettingUp, SetUp): after a client's cancellation or the run's deadline. */
  async #cancelAtProvider(log: Logger): Promise<"cancelled" | "not-cancellable" | "no-task" | "failed"> {
    const signal = AbortSignal.timeout(this.#d.options.requestTimeoutMs);
    try {
      let id = this.#cp.taskId;
      if (!id && this.#cp.nonce) id = (await this.#findTask(BigInt(this.#cp.nonce), signal))?.id;
      if (!id) return "no-task";
      await this.#client.cancelTask(id, signal);
      await this.#save({ status: "Failed" });
      log.info({ taskId: id }, "fine-tuning task cancelled at the provider");
      return "cancelled";
    } catch (err) {
      if (err instanceof NotCancellableError) {
        log.warn(
          { taskId: this.#cp.taskId, state: this.#cp.status },
          "the provider can no longer cancel this task (past SetUp); it will finish, and its delivery will not be acknowledged",
        );
        return "not-cancellable";
      }
      log.warn({ err: (err as Error).message }, "could not cancel the fine-tuning task at the provider");
      return "failed";
    }
  }

  /** Retries a retryable provider failure a few times (network blips), with backoff. */
  async #retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1, wait = 500; ; attempt++, wait *= 2) {
      try {
        return await fn();
      } catch (err) {
        if (this.#ctx.signal.aborted || !(err instanceof BackendError) || !err.retryable || attempt >= 3)
          throw err;
        await delay(wait, this.#ctx.signal);
      }
    }
  }
}

function maxBigInt(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
