import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { DatasetError, parseDataset, parseTrainingParams } from "./fine-tuning-dataset.js";
import { DEVNET_MINI_LM, QWEN_2_5_0_5B_INSTRUCT } from "./fine-tuning-models.js";
import { trainLoraAdapter } from "./train-lora-adapter.js";

// adm-zip (a dependency of the 0G SDK) reads the archive like any zip tool would.
const require = createRequire(import.meta.url);
const sdkRequire = createRequire(
  join(dirname(require.resolve("@0gfoundation/0g-compute-ts-sdk")), "index.js"),
);
const AdmZip = sdkRequire("adm-zip") as new (
  b: Buffer,
) => {
  getEntries(): { entryName: string; getData(): Buffer }[];
};

const dataset = Buffer.from(
  '{"instruction":"Translate","input":"cat","output":"chat"}\n{"instruction":"Translate","input":"dog","output":"chien"}\n',
);
const base = { name: QWEN_2_5_0_5B_INSTRUCT.name, hash: QWEN_2_5_0_5B_INSTRUCT.hash };

describe("trainLoraAdapter", () => {
  const a = trainLoraAdapter({ dataset, trainingParams: '{"lora_r":4}', baseModel: base });

  test("a zip of output_model/ with a PEFT config, safetensors weights and a summary", () => {
    const entries = new AdmZip(a.zip).getEntries();
    expect(entries.map((e) => e.entryName)).toEqual([
      "output_model/",
      "output_model/adapter_config.json",
      "output_model/adapter_model.safetensors",
      "output_model/training_summary.json",
    ]);
    const config = JSON.parse(entries[1]?.getData().toString() ?? "");
    expect(config).toMatchObject({ peft_type: "LORA", r: 4, base_model_name_or_path: base.name });
    const st = entries[2]?.getData() ?? Buffer.alloc(0);
    const headerLength = Number(st.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(st.subarray(8, 8 + headerLength).toString());
    const qA = header["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"];
    expect(qA).toEqual({ dtype: "F32", shape: [4, 64], data_offsets: [0, 4 * 4 * 64] });
    const dataLength = Math.max(
      ...Object.values(header).flatMap((h) => (h as { data_offsets?: number[] }).data_offsets ?? [0]),
    );
    expect(st.length).toBe(8 + headerLength + dataLength);
  });

  test("deterministic; a function of the dataset, the base model and the parameters", () => {
    expect(
      trainLoraAdapter({ dataset, trainingParams: '{"lora_r":4}', baseModel: base }).zip.equals(a.zip),
    ).toBe(true);
    const variants = [
      {
        dataset: Buffer.from(`${dataset}{"instruction":"x","output":"y"}\n`),
        trainingParams: '{"lora_r":4}',
        baseModel: base,
      },
      {
        dataset,
        trainingParams: '{"lora_r":4}',
        baseModel: { name: DEVNET_MINI_LM.name, hash: DEVNET_MINI_LM.hash },
      },
      { dataset, trainingParams: '{"lora_r":4,"num_train_epochs":3}', baseModel: base },
    ];
    for (const v of variants) {
      const w = trainLoraAdapter(v).files["adapter_model.safetensors"];
      expect(w?.equals(a.files["adapter_model.safetensors"] ?? Buffer.alloc(0))).toBe(false);
    }
  });
});

describe("parseDataset / parseTrainingParams", () => {
  test("the three JSONL formats", () => {
    expect(
      parseDataset(
        Buffer.from('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}'),
      ).examples,
    ).toEqual([{ instruction: "hi", input: "", output: "yo" }]);
    expect(parseDataset(Buffer.from('{"text":"plain text"}\n')).examples).toEqual([
      { instruction: "", input: "", output: "plain text" },
    ]);
    expect(parseDataset(dataset).tokens).toBe(6);
  });

  test.each([
    ["not UTF-8", Buffer.from([0xff, 0xfe, 0x00])],
    ["BOM", Buffer.from('\uFEFF{"text":"a"}')],
    ["blank first line", Buffer.from('\n{"text":"a"}')],
    ["not JSON", Buffer.from("{")],
    ["not an object", Buffer.from("42")],
    ["empty", Buffer.from("\n\n")],
    ["no text", Buffer.from('{"instruction":""}')],
  ])("refuses %s", (_name, bytes) => {
    expect(() => parseDataset(bytes)).toThrow(DatasetError);
  });

  test("training params: defaults, ranges, JSON", () => {
    expect(parseTrainingParams("{}")).toMatchObject({
      numTrainEpochs: 1,
      loraR: 8,
      loraAlpha: 16,
      learningRate: 1e-4,
    });
    for (const bad of [
      "[",
      "[]",
      '{"num_train_epochs":0}',
      '{"lora_r":1.5}',
      '{"learning_rate":-1}',
      '{"lora_r":"8"}',
    ])
      expect(() => parseTrainingParams(bad)).toThrow(DatasetError);
  });
});
