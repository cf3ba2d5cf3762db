import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bins, run, type Stack, startStack } from "./stack.js";

/** The bins as a user runs them: real processes, stdout and stderr apart, exit codes. */
function runBin(bin: string, args: string[], env: Record<string, string> = {}) {
  return run(process.execPath, [bin, ...args], { env: { ZEROG_API_KEY: "", ...env } });
}

let stack: Stack;
let zerog: (...args: string[]) => ReturnType<typeof runBin>;
beforeAll(async () => {
  stack = await startStack();
  zerog = (...args) => runBin(bins.zerog, args, { ZEROG_GRPC_URL: stack.grpcUrl });
});
afterAll(() => stack?.close());

describe("zerog, zerog-bridge and zerog-verify", () => {
  it("--version and --help on each bin", async () => {
    const { version } = JSON.parse(
      readFileSync(
        new URL("../node_modules/@chaoschain/zerog-adapter/package.json", import.meta.url),
        "utf8",
      ),
    );
    for (const [bin, name] of [
      [bins.zerog, "zerog"],
      [bins.bridge, "zerog-bridge"],
      [bins.verify, "zerog-verify"],
    ] as const) {
      const v = await runBin(bin, ["--version"]);
      expect(v).toMatchObject({ code: 0, stderr: "" });
      expect(v.stdout).toMatch(new RegExp(`^${name} \\d+\\.\\d+\\.\\d+\\n$`));
      const h = await runBin(bin, ["--help"]);
      expect(h).toMatchObject({ code: 0, stderr: "" });
      expect(h.stdout).toMatch(/^Usage:/);
    }
    expect((await runBin(bins.zerog, ["--version"])).stdout).toBe(`zerog ${version}\n`);
    expect((await runBin(bins.zerog, ["--help"])).stdout).toContain("Exit codes:");
  });
});

describe("zerog against a running bridge", () => {
  it("submit --wait prints the output; submit alone the job id; status and result follow it", async () => {
    const waited = await zerog(
      "submit",
      "--model",
      "llama-3-8b",
      "--prompt",
      "What is blockchain?",
      "--wait",
    );
    expect(waited).toEqual({
      code: 0,
      stdout: "llama-3-8b (0G devnet) heard: What is blockchain?\n",
      stderr: `zerog: proof verified here under the policy in ${stack.files.policy} (ZEROG_VERIFY_POLICY), answering the task submitted\n`,
    });
    const submitted = await zerog("submit", "--model", "llama-3-8b", "--prompt", "hi", "--json");
    expect(submitted.code).toBe(0);
    const { job_id: jobId } = JSON.parse(submitted.stdout) as { job_id: string };
    expect(jobId).toMatch(/^job_/);
    const result = await zerog("result", jobId, "--wait", "--timeout", "60");
    expect(result).toMatchObject({ code: 0, stdout: "llama-3-8b (0G devnet) heard: hi\n" });
    const status = await zerog("status", jobId);
    expect(status.stdout).toBe(`${jobId} completed 100%\n`);
    const json = JSON.parse((await zerog("status", jobId, "--json")).stdout);
    expect(json).toMatchObject({ job_id: jobId, status: "completed", progress: 1 });
  });

  it("result --out writes the result with its proof; verify checks it offline, and catches a forgery", async () => {
    const jobId = (await zerog("submit", "--model", "gpt-oss-120b", "--prompt", "Prove it")).stdout.trim();
    const file = join(stack.files.dir, "result.json");
    const out = await zerog("result", jobId, "--wait", "--out", file);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`zerog: result with proof written to ${file}\n`);
    const saved = JSON.parse(readFileSync(file, "utf8"));
    expect(saved).toMatchObject({ job_id: jobId, output: "gpt-oss-120b (0G devnet) heard: Prove it" });
    expect(saved.proof.tee.collateral.source_url).toBe(stack.pccsUrl);
    const args = ["--policy", stack.files.policy];
    const valid = await zerog("verify", file, ...args);
    expect(valid.code).toBe(0);
    expect(valid.stdout).toMatch(/^VALID proof\n/);
    // The same file verifies with the standalone verifier's CLI.
    expect((await runBin(bins.verify, ["proof", file, ...args])).code).toBe(0);
    writeFileSync(file, JSON.stringify({ ...saved, output: `${saved.output}!` }));
    const forged = await zerog("verify", file, ...args);
    expect(forged.code).toBe(1);
    expect(forged.stdout).toMatch(/^INVALID proof: output_mismatch/);
    // Under Intel's root (no devnet policy): refused, with the hint that names the devnet's policy file.
    const intel = await runBin(bins.zerog, ["verify", file], { ZEROG_VERIFY_POLICY: "" });
    expect(intel.code).toBe(1);
    expect(intel.stdout).toMatch(/^INVALID proof: output_mismatch/);
    writeFileSync(file, JSON.stringify(saved));
    const untrusted = await runBin(bins.zerog, ["verify", file], { ZEROG_VERIFY_POLICY: "" });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toMatch(/^INVALID proof: untrusted_root: /);
    expect(untrusted.stdout).toContain("ZEROG_VERIFY_POLICY=.zerog/devnet-policy.json");
    expect((await runBin(bins.verify, ["proof", file])).code).toBe(1);
  });

  it("services lists the models, verification and GPU type on offer", async () => {
    const { code, stdout } = await zerog("services");
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^(llama-3-8b|gpt-oss-120b)\ttee-ml\t-\t0x[0-9a-fA-F]{40}\tin \d+ \/ out \d+ neuron per token$/,
    );
  });

  it("watch prints one plain line per change when stdout is not a terminal", async () => {
    const jobId = (await zerog("submit", "--model", "llama-3-8b", "--prompt", "watch me")).stdout.trim();
    const { code, stdout } = await zerog("watch", jobId);
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines.at(-1)).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z ${jobId} completed 100%$`));
    expect(stdout).not.toContain("\r");
  });

  it("cancel of a job that already ended says so and exits 1", async () => {
    const jobId = (await zerog("submit", "--model", "llama-3-8b", "--prompt", "done", "--json")).stdout;
    const id = JSON.parse(jobId).job_id as string;
    await zerog("result", id, "--wait");
    expect(await zerog("cancel", id)).toEqual({
      code: 1,
      stdout: `${id} had already ended: completed\n`,
      stderr: "",
    });
  });

  it("errors go to stderr with documented exit codes", async () => {
    const usage = await zerog("submit", "--prompt", "no model");
    expect(usage).toMatchObject({ code: 2, stdout: "" });
    expect(usage.stderr).toContain("zerog: submit needs --model");
    const invalid = await zerog("submit", "--model", "llama 3", "--prompt", "x");
    expect(invalid).toMatchObject({ code: 2, stdout: "" });
    expect(invalid.stderr).toContain("task.model");
    const unknown = await zerog("status", "job_does_not_exist");
    expect(unknown).toMatchObject({ code: 2, stdout: "" });
    expect(unknown.stderr).toMatch(/^zerog: .*not found/);
    const offered = await zerog("submit", "--model", "no-such-model", "--prompt", "x");
    expect(offered).toMatchObject({ code: 2, stdout: "" });
    expect(offered.stderr).toContain("models on offer: gpt-oss-120b, llama-3-8b");
    const down = await runBin(bins.zerog, ["status", "job_1", "--url", "127.0.0.1:9"]);
    expect(down).toMatchObject({ code: 3, stdout: "" });
    expect(down.stderr).toContain("nothing listens at http://127.0.0.1:9 (connection refused)");
    const notBridge = await runBin(bins.zerog, ["status", "job_1", "--url", `https://${stack.grpcUrl}`]);
    expect(notBridge).toMatchObject({ code: 3, stdout: "" });
    expect(notBridge.stderr).toContain("does not speak TLS");
  });
});
