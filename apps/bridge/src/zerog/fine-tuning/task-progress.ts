/** A job's progress as GetJob and WatchJob show it: fraction done, the stage name and a sentence. */
export interface JobProgress {
  progress: number;
  stage: string;
  message: string;
}

/**
 * Provider task states ([Go] `0g-serving-broker` api/fine-tuning/internal/db/schema.go), in order, with
 * the share of the job done on reaching each and what it means. The bridge's own work after delivery
 * (download, checks, acknowledgement, decryption) fills the rest up to 1.
 */
const states: Record<string, { progress: number; message: string }> = {
  Init: { progress: 0.05, message: "queued at the provider" },
  SettingUp: { progress: 0.1, message: "the provider is setting up (dataset, fee, signatures)" },
  SetUp: { progress: 0.15, message: "set up; waiting for the GPU" },
  Training: { progress: 0.2, message: "training" },
  Trained: { progress: 0.75, message: "trained; the provider is encrypting the model" },
  Delivering: { progress: 0.78, message: "the provider is delivering the encrypted model" },
  Delivered: { progress: 0.8, message: "delivered; downloading and checking the encrypted model" },
  UserAcknowledged: {
    progress: 0.9,
    message: "acknowledged on chain; waiting for the provider's settlement",
  },
  Finished: { progress: 0.95, message: "settled; decrypting the model" },
  Failed: { progress: 0, message: "failed at the provider" },
};

/** Training spans this share of the job, filled by the steps the provider logs. */
const trainingSpan = 0.5;

/** The states in which the provider still accepts a cancellation ([Go] db.CancelTask). */
export const cancellableStates: ReadonlySet<string> = new Set(["Init", "SettingUp", "SetUp"]);

/** States after which the provider has delivered: the bridge downloads from here on. */
export const deliveredStates: ReadonlySet<string> = new Set(["Delivered", "UserAcknowledged", "Finished"]);

/**
 * The job progress for a provider task state; `log` (the task log's tail) refines training with the
 * last `step i/N` or `epoch i/N` line. The fraction never falls below `previous`'s (a provider whose
 * state or step count goes backwards does not move the job back). An unknown state (another provider
 * version) keeps `previous`'s fraction and shows the state's name, printable and at most 64 characters.
 *
 * @example
 * taskProgress("Training", "step 2/4 loss=1.2") // { progress: 0.45, stage: "Training", message: "training, step 2 of 4" }
 */
export function taskProgress(state: string, log = "", previous?: JobProgress): JobProgress {
  const shown = stateProgress(state, log);
  return { ...shown, progress: Math.max(shown.progress, previous?.progress ?? 0) };
}

function stateProgress(state: string, log: string): JobProgress {
  const known = Object.hasOwn(states, state) ? states[state] : undefined;
  if (!known) {
    const name = state.replace(/[^\x20-\x7e]/g, "").slice(0, 64) || "?";
    return { progress: 0, stage: name, message: `provider state ${JSON.stringify(name)}` };
  }
  if (state === "Training") {
    const step = lastFraction(log);
    if (step) {
      return {
        progress: round(known.progress + (trainingSpan * step.done) / step.total),
        stage: state,
        message: `training, ${step.unit} ${step.done} of ${step.total}`,
      };
    }
  }
  return { progress: known.progress, stage: state, message: known.message };
}

function lastFraction(log: string): { unit: string; done: number; total: number } | undefined {
  const matches = [...log.matchAll(/\b(step|epoch)\s+(\d{1,9})\s*(?:\/|of)\s*(\d{1,9})\b/gi)];
  for (const m of matches.reverse()) {
    const done = Number(m[2]);
    const total = Number(m[3]);
    if (total > 0 && done <= total) return { unit: (m[1] ?? "step").toLowerCase(), done, total };
  }
  return undefined;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
