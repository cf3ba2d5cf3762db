/**
 * A base model a fine-tuning provider trains on. `predefined` models are known to the SDK by name
 * (`MODEL_HASH_MAP` in `lib.commonjs/fine-tuning/const.js`: it sends their hash without asking the
 * provider) and to the provider by hash ([Go] `const.SCRIPT_MAP`); the others are the provider's
 * "customized" models, listed at `GET /v1/model` and resolved by the SDK through `GET /v1/model/<name>`.
 */
export type FineTuningModel = {
  name: string;
  /** 0x + 64 hex: the model's 0G Storage root hash (`preTrainedModelHash` of a task). */
  hash: string;
  predefined?: boolean | undefined;
  /** `text` or `image` ([Go] config.CustomizedModel.DataType). Default "text". */
  dataType?: "text" | "image" | undefined;
  image?: string | undefined;
  trainingScript?: string | undefined;
  description?: string | undefined;
  tokenizer?: string | undefined;
};

/** `Qwen2.5-0.5B-Instruct` as SDK 0.9.0 knows it (turbo root hash). */
export const QWEN_2_5_0_5B_INSTRUCT: FineTuningModel = {
  name: "Qwen2.5-0.5B-Instruct",
  hash: "0xb4f76a886b8655c92bb021922d60b5e4d9271a5c9da98b6cb10937a06c2c75a7",
  predefined: true,
  dataType: "text",
  trainingScript: "/app/train_lora.py",
  description: "Qwen2.5-0.5B-Instruct, LoRA fine-tuning (devnet: deterministic trainer)",
  tokenizer: "Qwen/Qwen2.5-0.5B-Instruct",
};

/** A provider-specific ("customized") model, so the `/v1/model/<name>` lookup path is exercised too. */
export const DEVNET_MINI_LM: FineTuningModel = {
  name: "devnet-mini-lm",
  hash: "0x7a6d1a5f1e3c7c1b7b8e7a4a57b5c8f0d7b1f0f6e9a4c3b2a1908f7e6d5c4b3a",
  dataType: "text",
  image: "ghcr.io/chaoschain/zerog-devnet-trainer:devnet",
  trainingScript: "/app/train_lora.py",
  description: "A tiny model served only by the devnet's fine-tuning provider",
  tokenizer: "devnet/word-punct",
};

export const DEFAULT_FINE_TUNING_MODELS: readonly FineTuningModel[] = [
  QWEN_2_5_0_5B_INSTRUCT,
  DEVNET_MINI_LM,
];

/** The `/v1/model` item of a customized model ([Go] `ctrl.Model`). */
export function modelListing(m: FineTuningModel) {
  return {
    name: m.name,
    hash: m.hash,
    image: m.image ?? "",
    dataType: m.dataType ?? "text",
    trainingScript: m.trainingScript ?? "",
    description: m.description ?? "",
    tokenizer: m.tokenizer ?? "",
  };
}
