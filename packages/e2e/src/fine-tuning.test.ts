import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bins, run, type Stack, startStack } from "./stack.js";

/**
 * Fine-tuning through a bridge process on the devnet, as a user runs it: the adapter README's example as
 * printed, and the `zerog` CLI (submit, watch, result).
 */
const repo = fileURLToPath(new URL("../../../", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "zerog-e2e-ft-"));
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    bridgeArgs: [`--artifacts-dir=${join(work, "artifacts")}`, "--fine-tuning-poll=50"],
  });
  // The examples import the adapter as an installed package: this package's dependencies.
  symlinkSync(fileURLToPath(new URL("../node_modules", import.meta.url)), join(work, "node_modules"), "dir");
});
afterAll(async () => {
  await stack?.close();
  rmSync(work, { recursive: true, force: true });
});

const zerog = (...args: string[]) =>
  run(process.execPath, [bins.zerog, ...args], {
    cwd: work,
    env: { ZEROG_GRPC_URL: stack.grpcUrl, ZEROG_API_KEY: "" },
  });

/** The model file a fine-tuning output names, checked against its sha256 and size. */
function checkArtifact(reference: { path: string; sha256: string; size: number }) {
  const bytes = readFileSync(reference.path);
  expect(createHash("sha256").update(bytes).digest("hex")).toBe(reference.sha256);
  expect(bytes.length).toBe(reference.size);
  expect(bytes.subarray(0, 2).toString()).toBe("PK");
}

describe("fine-tuning, end to end", () => {
  it("the adapter README's example runs as printed", async () => {
    const readme = readFileSync(join(repo, "packages/adapter/README.md"), "utf8");
    const example = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf("## Fine-tuning")))?.[1];
    expect(example).toBeDefined();
    writeFileSync(join(work, "finetune.mjs"), example as string);
    const out = await run(process.execPath, ["finetune.mjs"], {
      cwd: work,
      env: { ZEROG_GRPC_URL: stack.grpcUrl },
    });
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^\d+% Training training, step \d of 4$/m);
    const model = /^Model: (\S+) \((\d+) bytes, sha256 ([0-9a-f]{64})\)$/m.exec(out.stdout);
    expect(model).not.toBeNull();
    checkArtifact({ path: model![1]!, size: Number(model![2]), sha256: model![3]! });
    expect(out.stdout).toMatch(/^Task [0-9a-f-]{36}, trained by the enclave 0x[0-9a-fA-F]{40}$/m);
  });

  it("zerog submit --task-type fine-tuning, zerog watch (stage and progress per line), zerog result", async () => {
    writeFileSync(
      join(work, "train.jsonl"),
      '{"instruction":"Say hi","output":"hi"}\n{"instruction":"Count","output":"1 2 3"}\n',
    );
    const submitted = await zerog(
      "submit",
      "--task-type",
      "fine-tuning",
      "--model",
      "Qwen2.5-0.5B-Instruct",
      "--dataset-file",
      "train.jsonl",
      "--params",
      '{"num_train_epochs":2}',
    );
    expect(submitted).toMatchObject({ code: 0, stderr: "" });
    const jobId = submitted.stdout.trim();
    expect(jobId).toMatch(/^job_/);
    const watched = await zerog("watch", jobId);
    expect(watched).toMatchObject({ code: 0, stderr: "" });
    const lines = watched.stdout.trim().split("\n");
    expect(lines.at(-1)).toMatch(new RegExp(`^\\S+Z ${jobId} completed 100% \\[Finished\\]$`));
    expect(
      lines.some((l) => new RegExp(`${jobId} running \\d+% \\[Training\\] training, step \\d of 4$`).test(l)),
    ).toBe(true);
    const result = await zerog("result", jobId);
    expect(result).toMatchObject({
      code: 0,
      stderr:
        `zerog: proof verified here under the policy in ${stack.files.policy} (ZEROG_VERIFY_POLICY); ` +
        "its task not compared (only inference tasks submitted here are); " +
        "skipped: fine_tuning.artifact (not checkable offline), freshness (not applicable)\n",
    });
    checkArtifact(JSON.parse(result.stdout));
  });

  it("zerog services --type fine-tuning lists the base models, and only those", async () => {
    const listed = await zerog("services", "--type", "fine-tuning");
    expect(listed).toMatchObject({ code: 0, stderr: "" });
    expect(
      listed.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("\t")[0]),
    ).toEqual(["Qwen2.5-0.5B-Instruct", "devnet-mini-lm"]);
    expect(listed.stdout).toMatch(/\tfine-tuning: \d+ neuron per token per epoch$/m);
    expect((await zerog("services")).stdout).not.toContain("devnet-mini-lm");
  });

  it("zerog submit --task-type training is refused (exit 2), naming what to fine-tune instead", async () => {
    const refused = await zerog(
      "submit",
      "--task-type",
      "training",
      "--model",
      "my-llm",
      "--dataset",
      '{"text":"a"}',
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /training from scratch is not offered by any 0G provider.*Qwen2\.5-0\.5B-Instruct/s,
    );
  });
});
