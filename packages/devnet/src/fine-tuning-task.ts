/**
 * Task progress values in order ([Go] `api/fine-tuning/internal/db/schema.go` ProgressState). A task
 * ends in `Finished` or `Failed` (also the state of a cancelled task).
 */
export const FINE_TUNING_STATUSES = [
  "Init",
  "SettingUp",
  "SetUp",
  "Training",
  "Trained",
  "Delivering",
  "Delivered",
  "UserAcknowledged",
  "Finished",
  "Failed",
] as const;

export type FineTuningStatus = (typeof FINE_TUNING_STATUSES)[number];

/** States counted by `GET /v1/task/pending` ([Go] db.PendingTrainingTaskCount). */
export const PENDING_STATUSES: readonly FineTuningStatus[] = ["Init", "SettingUp", "SetUp", "Training"];

/** States `POST …/cancel` accepts ([Go] db.CancelTask); others answer 409. */
export const CANCELLABLE_STATUSES: readonly FineTuningStatus[] = ["Init", "SettingUp", "SetUp"];

/** An in-flight state and the state a restarted provider resumes it from. */
export const RESUME_FROM: Partial<Record<FineTuningStatus, FineTuningStatus>> = {
  SettingUp: "Init",
  Training: "SetUp",
  Delivering: "Trained",
};

/** The encrypted delivery of a task, kept like the provider keeps `<output>_encrypted.data`. */
export type TaskDelivery = {
  /** The served file: tag signature ‖ iv ‖ chunks. */
  encrypted: Uint8Array;
  /** The decrypted artifact (the zip of `output_model/`). */
  plaintext: Uint8Array;
  /** `keccak256(encrypted)`, recorded on chain by `addDeliverable`. */
  modelRootHash: string;
  /** The AES key ECIES-encrypted to the user, published on chain by `settleFees`. */
  encryptedSecret: string;
};

/** A task row of the provider's database. */
export type TaskRecord = {
  id: string;
  createdAt: Date;
  updatedAt: Date;
  /** As the task body spelled it. */
  userAddress: string;
  preTrainedModelHash: string;
  datasetHash: string;
  trainingParams: string;
  /** Decimal neuron; set by setup from the token count. */
  fee: string;
  nonce: string;
  signature: string;
  progress: FineTuningStatus;
  /** Every progress value the task has had, in order (a restart shows as a step back). */
  history: FineTuningStatus[];
  deliverTime: number;
  modelType: 0 | 1;
  /** `0x04…`, recovered from the task signature in setup. */
  userPublicKey?: string | undefined;
  log: string[];
  delivery?: TaskDelivery | undefined;
  settlementRetries: number;
};

/** Moves a task to `progress`, recording it in `history` and `logLine` (if any) in its log. */
export function setProgress(t: TaskRecord, progress: FineTuningStatus, logLine?: string): void {
  t.progress = progress;
  t.history.push(progress);
  t.updatedAt = new Date();
  if (logLine) t.log.push(logLine);
}

/** The JSON of `GET /v1/user/:user/task/:id` ([Go] `schema.Task`, readonly fields included). */
export function taskJson(t: TaskRecord) {
  return {
    id: t.id,
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
    userAddress: t.userAddress,
    preTrainedModelHash: t.preTrainedModelHash,
    datasetHash: t.datasetHash,
    trainingParams: t.trainingParams,
    fee: t.fee,
    nonce: t.nonce,
    signature: t.signature,
    progress: t.progress,
    deliverIndex: 0,
    deliverTime: t.deliverTime,
    modelType: t.modelType,
    wait: false,
  };
}

export type FineTuningTaskJson = ReturnType<typeof taskJson>;
