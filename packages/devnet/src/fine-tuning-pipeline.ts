import { setMaxListeners } from "node:events";
import { getAddress, type Wallet } from "ethers";
import { errorMessage } from "./errors.js";
import { type FineTuningContract, signFineTuningSettlement } from "./fine-tuning-contract.js";
import { parseDataset, parseTrainingParams } from "./fine-tuning-dataset.js";
import type { FineTuningModel } from "./fine-tuning-models.js";
import { createTaskDigest, recoverDigestSigner } from "./fine-tuning-signatures.js";
import { type FineTuningStatus, RESUME_FROM, setProgress, type TaskRecord } from "./fine-tuning-task.js";
import { delay } from "./http-utils.js";
import { encryptModel, encryptSecretForUser } from "./model-encryption.js";
import type { FineTuningServiceRecord } from "./register-fine-tuning-service.js";
import { trainLoraAdapter } from "./train-lora-adapter.js";

/** How long each stage takes. The real provider polls once a minute and trains for minutes. */
export type FineTuningTiming = {
  /** Setup (download, token count, checks). Default 20 ms. */
  setupMs: number;
  /** Training, spread over `trainingSteps` log lines. Default 100 ms. */
  trainingMs: number;
  /** Default 4. */
  trainingSteps: number;
  /** Encryption and `addDeliverable`. Default 20 ms. */
  deliveringMs: number;
  /** How often delivered tasks are checked for the user's acknowledgement. Default 50 ms. */
  settlementPollMs: number;
  /**
   * An unacknowledged delivery is settled without the secret (fee cut to the contract's penalty
   * percentage) after this long. Default 12 h ([Go] min(deliveredTaskAckTimeoutSecs, lockTime/2)).
   */
  ackTimeoutMs: number;
};

export const DEFAULT_FINE_TUNING_TIMING: FineTuningTiming = {
  setupMs: 20,
  trainingMs: 100,
  trainingSteps: 4,
  deliveringMs: 20,
  settlementPollMs: 50,
  ackTimeoutMs: 12 * 3600 * 1000,
};

/** Faults a test can inject into the fine-tuning provider. `setFaults({})` clears them. */
export type FineTuningFaults = {
  /** Stop listening (connections refused); tasks keep their state. */
  down?: boolean | undefined;
  /** The task fails in this stage (training: half-way through its steps). */
  failAt?: "SettingUp" | "Training" | "Delivering" | undefined;
  /** The pipeline leaves tasks in this state until the fault changes. */
  holdAt?: "Init" | "SetUp" | "Trained" | "Delivered" | "UserAcknowledged" | undefined;
  /** Every route but `/v1/quote` answers this status (`{"error": …}`). */
  failStatus?: number | undefined;
  /** The tag signature of deliveries is made by a key that is not the registered TEE signer. */
  wrongTagSigner?: boolean | undefined;
  /** The served encrypted model differs in one byte from the one whose hash went on chain. */
  corruptDelivery?: boolean | undefined;
};

export type FineTuningStats = {
  datasetsUploaded: number;
  tasksCreated: number;
  tasksCancelled: number;
  rejectedAuth: number;
  deliveries: number;
  loraDownloads: number;
  settlementTxs: number;
  /** Neuron the settlements paid the provider (the penalty share for unacknowledged deliveries). */
  settledFee: bigint;
  occupancyTxs: number;
};

/** Where the pipeline finds the task's dataset. */
export type DatasetLookup = (user: string, datasetHash: string) => Uint8Array | undefined;

export type FineTuningPipelineContext = {
  tasks: Map<string, TaskRecord>;
  /** Trained artifacts not yet encrypted (kept across a restart, like the output directory). */
  artifacts: Map<string, Uint8Array>;
  dataset: DatasetLookup;
  models: readonly FineTuningModel[];
  pricePerToken: bigint;
  contract: FineTuningContract;
  chainId: number;
  fineTuning: string;
  teeWallet: Wallet;
  rogueWallet: Wallet;
  /** The on-chain record, re-sent with `occupied` flipped around training ([Go] OccupyService). */
  service: FineTuningServiceRecord;
  timing: () => FineTuningTiming;
  faults: () => FineTuningFaults;
  stats: FineTuningStats;
  /** Called after every state change. */
  changed: (task: TaskRecord) => void;
};

const MAX_SETTLEMENT_RETRIES = 10;

class StageError extends Error {
  override name = "StageError";
}

/**
 * The provider's task services ([Go] `internal/services`: setup, executor, finalizer, settlement) as
 * one worker: Init → SettingUp → SetUp → Training → Trained → Delivering → Delivered, then
 * UserAcknowledged → Finished once the user acknowledges on chain. One task runs at a time, first
 * created first. A stage that fails marks the task Failed with the reason in its log (the Go services
 * retry a few times first; the devnet does not). `stop()` aborts the stage in flight; the task stays in
 * its in-flight state and a new pipeline resumes it from the state before ({@link RESUME_FROM}).
 */
export class FineTuningPipeline {
  readonly #ctx: FineTuningPipelineContext;
  readonly #abort = new AbortController();
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(ctx: FineTuningPipelineContext) {
    this.#ctx = ctx;
    setMaxListeners(0, this.#abort.signal);
  }

  start(): void {
    for (const t of this.#ctx.tasks.values()) {
      const resume = RESUME_FROM[t.progress];
      if (resume) this.#set(t, resume, `Provider restarted: task ${t.id} resumes from ${resume}`);
    }
    this.#loop = this.#run();
  }

  /** Re-checks the tasks now (after a new task, a cancellation or a fault change). */
  kick(): void {
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.kick();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        await this.#settleDelivered();
        const next = this.#nextRunnable();
        if (next) {
          await this.#advance(next);
          continue;
        }
      } catch (err) {
        if (signal.aborted) return;
        process.emitWarning(`zerog-devnet fine-tuning pipeline: ${errorMessage(err)}`);
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        void delay(this.#ctx.timing().settlementPollMs, signal).then(resolve);
      });
      this.#wake = undefined;
    }
  }

  #nextRunnable(): TaskRecord | undefined {
    const hold = this.#ctx.faults().holdAt;
    let first: TaskRecord | undefined;
    for (const t of this.#ctx.tasks.values()) {
      if (t.progress !== "Init" && t.progress !== "SetUp" && t.progress !== "Trained") continue;
      if (t.progress === hold) continue;
      if (!first || t.createdAt < first.createdAt) first = t;
    }
    return first;
  }

  async #advance(t: TaskRecord): Promise<void> {
    const stage = t.progress === "Init" ? "SettingUp" : t.progress === "SetUp" ? "Training" : "Delivering";
    this.#set(t, stage);
    try {
      if (stage === "SettingUp") await this.#setup(t);
      else if (stage === "Training") await this.#train(t);
      else await this.#deliver(t);
    } catch (err) {
      if (this.#abort.signal.aborted) return;
      // A cancellation while the stage ran already ended the task.
      if (t.progress !== stage) return;
      this.#set(t, "Failed", `${stageName(stage)} failed: ${errorMessage(err)}`);
    }
  }

  /** Sleeps `ms`; throws if the pipeline stops or the task left `state` (e.g. was cancelled). */
  async #pause(t: TaskRecord, ms: number, state: FineTuningStatus): Promise<void> {
    await delay(ms, this.#abort.signal);
    if (this.#abort.signal.aborted) throw new StageError("provider stopped");
    if (t.progress !== state) throw new StageError(`task left ${state}`);
  }

  async #setup(t: TaskRecord): Promise<void> {
    const { contract, faults } = this.#ctx;
    await this.#pause(t, this.#ctx.timing().setupMs, "SettingUp");
    if (faults().failAt === "SettingUp") throw new StageError("simulated failure during setup");
    const bytes = this.#ctx.dataset(t.userAddress, t.datasetHash);
    if (!bytes) {
      throw new StageError(
        `dataset sources failed - uploaded: dataset ${t.datasetHash} not found for user ${t.userAddress}, 0G Storage: not available on the devnet`,
      );
    }
    const { tokens } = parseDataset(bytes);
    const { numTrainEpochs } = parseTrainingParams(t.trainingParams);
    const fee = BigInt(tokens) * this.#ctx.pricePerToken * BigInt(numTrainEpochs);
    t.fee = fee.toString();
    t.log.push(
      `Calculated fee: ${fee} (tokenSize=${tokens}, trainEpochs=${numTrainEpochs}, pricePerToken=${this.#ctx.pricePerToken})`,
    );
    const account = await contract.account(t.userAddress);
    if (!account) throw new StageError("get account in contract: the user has no account with this provider");
    const available = account.balance - account.pendingRefund;
    if (available < fee)
      throw new StageError(
        `insufficient account balance after pending refund: required ${fee}, available ${available}`,
      );
    if (account.nonce >= BigInt(t.nonce))
      throw new StageError(`invalid nonce: expected more than ${account.nonce}, got ${t.nonce}`);
    if (!(await contract.teeSignerAcknowledged()))
      throw new StageError("service TEE signer has not been acknowledged by the 0G team");
    if (!account.acknowledged)
      throw new StageError("user has not acknowledged the provider's TEE signer yet");
    const signer = recoverDigestSigner(
      createTaskDigest(t.userAddress, t.nonce, t.datasetHash),
      t.signature,
      t.userAddress,
    );
    if (!signer) throw new StageError("signature error");
    t.userPublicKey = signer.publicKey;
    if (t.progress !== "SettingUp") return;
    this.#set(t, "SetUp", `Training model for setup task ${t.id} successfully`);
  }

  async #train(t: TaskRecord): Promise<void> {
    const { timing, faults } = this.#ctx;
    const model = this.#ctx.models.find((m) => m.hash.toLowerCase() === t.preTrainedModelHash.toLowerCase());
    const bytes = this.#ctx.dataset(t.userAddress, t.datasetHash);
    if (!model || !bytes) throw new StageError("the task's model or dataset is gone");
    await this.#occupy(true);
    try {
      const result = trainLoraAdapter({
        dataset: bytes,
        trainingParams: t.trainingParams,
        baseModel: { name: model.name, hash: model.hash },
      });
      const steps = Math.max(1, timing().trainingSteps);
      for (let i = 1; i <= steps; i++) {
        await this.#pause(t, timing().trainingMs / steps, "Training");
        const loss =
          result.losses[
            Math.min(result.losses.length - 1, Math.floor((i * result.losses.length) / steps) - 1)
          ];
        t.log.push(`step ${i}/${steps} loss=${loss}`);
        if (faults().failAt === "Training" && i >= Math.ceil(steps / 2))
          throw new StageError("training container exited with code 1 (simulated)");
      }
      t.delivery = undefined;
      this.#ctx.artifacts.set(t.id, result.zip);
    } finally {
      await this.#occupy(false).catch((err: unknown) => t.log.push(`release service: ${errorMessage(err)}`));
    }
    this.#set(t, "Trained", `Training model for executor task ${t.id} successfully`);
  }

  async #deliver(t: TaskRecord): Promise<void> {
    const { contract, faults } = this.#ctx;
    await this.#pause(t, this.#ctx.timing().deliveringMs, "Delivering");
    if (faults().failAt === "Delivering") throw new StageError("simulated failure while delivering");
    if (!t.delivery) {
      const plaintext = this.#ctx.artifacts.get(t.id);
      if (!plaintext || !t.userPublicKey) throw new StageError("the trained model is gone");
      const signer = faults().wrongTagSigner ? this.#ctx.rogueWallet : this.#ctx.teeWallet;
      const { encrypted, key, modelRootHash } = encryptModel({ plaintext, teeKey: signer.privateKey });
      const encryptedSecret = encryptSecretForUser(t.userPublicKey, key);
      t.delivery = {
        encrypted,
        plaintext,
        modelRootHash,
        encryptedSecret: `0x${Buffer.from(encryptedSecret).toString("hex")}`,
      };
      this.#ctx.artifacts.delete(t.id);
    }
    // A restarted provider may already have added it.
    if (!(await contract.deliverable(t.userAddress, t.id))) {
      await contract.addDeliverable(t.userAddress, t.id, t.delivery.modelRootHash);
    }
    if (t.progress !== "Delivering") return;
    t.deliverTime = Math.floor(Date.now() / 1000);
    this.#ctx.stats.deliveries++;
    this.#set(t, "Delivered", `Task ${t.id} delivered: modelRootHash ${t.delivery.modelRootHash}`);
  }

  async #settleDelivered(): Promise<void> {
    const hold = this.#ctx.faults().holdAt;
    for (const t of [...this.#ctx.tasks.values()]) {
      if (this.#abort.signal.aborted) return;
      if (t.progress === "Delivered" && hold !== "Delivered") {
        const d = await this.#ctx.contract.deliverable(t.userAddress, t.id);
        if (d?.acknowledged) this.#set(t, "UserAcknowledged", `User acknowledged task ${t.id}`);
        else if (Date.now() >= t.deliverTime * 1000 + this.#ctx.timing().ackTimeoutMs)
          await this.#settle(t, false);
      }
      if (t.progress === "UserAcknowledged" && hold !== "UserAcknowledged") await this.#settle(t, true);
    }
  }

  /** `settleFees` with the secret (acknowledged) or without it (ack timeout: penalty fee). */
  async #settle(t: TaskRecord, acknowledged: boolean): Promise<void> {
    const delivery = t.delivery;
    if (!delivery) return;
    const settlement = {
      id: t.id,
      encryptedSecret: acknowledged ? delivery.encryptedSecret : "0x",
      modelRootHash: delivery.modelRootHash,
      nonce: BigInt(t.nonce),
      taskFee: BigInt(t.fee),
      user: getAddress(t.userAddress),
    };
    const signature = signFineTuningSettlement(
      this.#ctx.teeWallet,
      this.#ctx.chainId,
      this.#ctx.fineTuning,
      settlement,
    );
    try {
      await this.#ctx.contract.settleFees({ ...settlement, signature });
    } catch (err) {
      t.settlementRetries++;
      t.log.push(`Settle task ${t.id} failed: ${errorMessage(err)}`);
      if (t.settlementRetries >= MAX_SETTLEMENT_RETRIES)
        this.#set(t, "Failed", `Settlement of task ${t.id} gave up`);
      return;
    }
    this.#ctx.stats.settlementTxs++;
    this.#ctx.stats.settledFee += acknowledged
      ? settlement.taskFee
      : (settlement.taskFee * (await this.#ctx.contract.penaltyPercentage())) / 100n;
    this.#set(
      t,
      "Finished",
      `Settle task ${t.id} successfully${acknowledged ? "" : " (not acknowledged: penalty fee)"}`,
    );
  }

  async #occupy(occupied: boolean): Promise<void> {
    if (this.#ctx.service.occupied === occupied) return;
    this.#ctx.service.occupied = occupied;
    await this.#ctx.contract.updateService(this.#ctx.service);
    this.#ctx.stats.occupancyTxs++;
  }

  #set(t: TaskRecord, progress: FineTuningStatus, logLine?: string): void {
    setProgress(t, progress, logLine);
    this.#ctx.changed(t);
  }
}

function stageName(stage: FineTuningStatus): string {
  return stage === "SettingUp" ? "setup" : stage === "Training" ? "training" : "finalizer";
}
