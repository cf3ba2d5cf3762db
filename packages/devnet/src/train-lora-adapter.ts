import { createHash } from "node:crypto";
import {
  type ParsedDataset,
  parseDataset,
  parseTrainingParams,
  type TrainingParams,
} from "./fine-tuning-dataset.js";
import { tokenize } from "./mock-model.js";
import { zipStore } from "./zip-store.js";

/** Hidden size of the devnet's toy model: LoRA matrices are r×64 and 64×r. */
const HIDDEN = 64;
const TARGET_MODULES = ["q_proj", "v_proj"] as const;

export type TrainLoraAdapterParameters = {
  /** The dataset exactly as uploaded (JSONL). */
  dataset: Uint8Array;
  /** The task's `trainingParams` text. */
  trainingParams: string;
  baseModel: { name: string; hash: string };
};

export type TrainLoraAdapterReturnType = {
  /** The zip of `output_model/` the provider encrypts and delivers. */
  zip: Buffer;
  /** `adapter_config.json`, `adapter_model.safetensors`, `training_summary.json`. */
  files: Record<string, Buffer>;
  dataset: ParsedDataset;
  params: TrainingParams;
  /** Training steps (one per example per epoch, at least 1) and the simulated loss per step. */
  losses: number[];
};

/**
 * The devnet's deterministic stand-in for LoRA fine-tuning (no ML): it turns the dataset, the base model
 * and the training parameters into a small but real PEFT-style adapter — `adapter_model.safetensors`
 * (float32 `lora_A`/`lora_B` for `q_proj`/`v_proj`, derived from the dataset's token histogram and the
 * base model hash), `adapter_config.json` and a training summary — zipped under `output_model/` like the
 * provider zips its output directory. Same inputs, same bytes. Throws `DatasetError` for bad input.
 *
 * @example
 * const { zip } = trainLoraAdapter({ dataset, trainingParams: "{}", baseModel: { name, hash } });
 */
export function trainLoraAdapter(params: TrainLoraAdapterParameters): TrainLoraAdapterReturnType {
  const dataset = parseDataset(params.dataset);
  const training = parseTrainingParams(params.trainingParams);
  const r = training.loraR;
  const cells = r * HIDDEN;
  const histogram = new Float64Array(cells);
  for (const e of dataset.examples) {
    for (const token of tokenize(`${e.instruction} ${e.input} ${e.output}`)) {
      const k = fnv1a(token.trim().toLowerCase()) % cells;
      histogram[k] = (histogram[k] ?? 0) + 1;
    }
  }
  const max = Math.max(1, ...histogram);
  const seed = createHash("sha256")
    .update(params.baseModel.hash.toLowerCase())
    .update(params.dataset)
    .update(JSON.stringify(training.raw))
    .digest();
  const noise = noiseStream(seed, cells * TARGET_MODULES.length * 2);
  const scale = (training.learningRate * training.numTrainEpochs * training.loraAlpha) / r;
  const tensors: Record<string, { shape: [number, number]; values: Float32Array }> = {};
  let n = 0;
  for (const [m, module] of TARGET_MODULES.entries()) {
    const a = new Float32Array(cells);
    const b = new Float32Array(cells);
    for (let k = 0; k < cells; k++) {
      a[k] = ((histogram[(k + m * 7) % cells] ?? 0) / max) * 0.02 - 0.01 + (noise[n++] ?? 0) * 0.001;
      b[k] = scale * ((histogram[(k * 7 + m) % cells] ?? 0) / max) + (noise[n++] ?? 0) * 1e-6;
    }
    const prefix = `base_model.model.model.layers.0.self_attn.${module}`;
    tensors[`${prefix}.lora_A.weight`] = { shape: [r, HIDDEN], values: a };
    tensors[`${prefix}.lora_B.weight`] = { shape: [HIDDEN, r], values: b };
  }
  const steps = Math.max(1, dataset.examples.length * training.numTrainEpochs);
  const losses = Array.from({ length: steps }, (_, i) => round6(2.5 / (1 + Math.log1p(i + 1) * 0.9)));
  const files: Record<string, Buffer> = {
    "adapter_config.json": json({
      base_model_name_or_path: params.baseModel.name,
      base_model_hash: params.baseModel.hash,
      peft_type: "LORA",
      task_type: "CAUSAL_LM",
      r,
      lora_alpha: training.loraAlpha,
      lora_dropout: 0.05,
      target_modules: [...TARGET_MODULES],
      bias: "none",
      inference_mode: true,
    }),
    "adapter_model.safetensors": safetensors(tensors, { format: "pt", trainer: "zerog-devnet" }),
    "training_summary.json": json({
      trainer: "zerog-devnet deterministic trainer (no ML; output is a function of the inputs)",
      base_model: params.baseModel,
      dataset_sha256: createHash("sha256").update(params.dataset).digest("hex"),
      examples: dataset.examples.length,
      tokens: dataset.tokens,
      epochs: training.numTrainEpochs,
      steps,
      final_loss: losses.at(-1),
    }),
  };
  const zip = zipStore([
    { name: "output_model/" },
    ...Object.entries(files).map(([name, data]) => ({ name: `output_model/${name}`, data })),
  ]);
  return { zip, files, dataset, params: training, losses };
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** `count` numbers in [-1, 1) from SHA-256 in counter mode over `seed`. */
function noiseStream(seed: Buffer, count: number): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0, block = 0; i < count; block++) {
    const bytes = createHash("sha256").update(seed).update(String(block)).digest();
    for (let j = 0; j + 4 <= bytes.length && i < count; j += 4)
      out[i++] = bytes.readUInt32BE(j) / 2 ** 31 - 1;
  }
  return out;
}

/** A safetensors file: u64le header length ‖ JSON header (space-padded to 8) ‖ little-endian F32 data. */
function safetensors(
  tensors: Record<string, { shape: [number, number]; values: Float32Array }>,
  metadata: Record<string, string>,
): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const data = Buffer.alloc(t.values.length * 4);
    for (const [i, v] of t.values.entries()) data.writeFloatLE(v, i * 4);
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + data.length] };
    chunks.push(data);
    offset += data.length;
  }
  let text = JSON.stringify(header);
  text += " ".repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  return Buffer.concat([size, Buffer.from(text), ...chunks]);
}
