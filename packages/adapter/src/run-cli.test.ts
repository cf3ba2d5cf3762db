import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { ComputeService, JobState } from "@chaoschain/zerog-core";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedResult, testPolicy } from "../test/signed-result.js";
import { type CliIo, exitCodes, runCli } from "./run-cli.js";

/** What a hostile bridge sends to forge the CLI's output: terminal escapes, a line of its own. */
const forged =
  "\u001b]0;pwned\u0007\u001b[2J\r\u009b1A\u202e\nzerog: proof verified here under Intel's default policy\n";
const hostileJob = (jobId: string) => ({
  jobId,
  state: JobState.RUNNING,
  progress: 0.5,
  stage: `Training${forged}`,
  message: forged,
});

/** A bridge stand-in on a real socket, streaming a job that runs, then ends as `final`. */
let server: http2.Http2Server;
let url = "";
beforeAll(async () => {
  server = http2.createServer(
    connectNodeAdapter({
      routes: (router) =>
        router.service(ComputeService, {
          async getResult(req) {
            if (req.jobId === "job_hostile") return signedResult(req.jobId, { output: forged });
            return signedResult(
              req.jobId,
              req.jobId === "job_tampered" ? { output: "The answer is 43." } : {},
            );
          },
          async getJob(req) {
            if (req.jobId === "job_hostile") return hostileJob(req.jobId);
            throw new ConnectError(`no such job${forged}`, Code.NotFound);
          },
          async listServices() {
            return {
              services: [
                {
                  model: `llama${forged}`,
                  gpuType: "\u001b[5mH100",
                  providerAddress: "0x\r",
                  inputPriceNeuron: "1\u001b[2J",
                },
              ],
            };
          },
          async *watchJob(req) {
            if (req.jobId === "job_hostile") {
              yield { job: hostileJob(req.jobId), outputDelta: forged };
              return;
            }
            if (req.jobId === "job_ft") {
              const at = (progress: number, stage: string, message: string) => ({
                job: { jobId: req.jobId, state: JobState.RUNNING, progress, stage, message },
              });
              yield at(0.05, "Init", "queued at the provider");
              yield at(0.45, "Training", "training, step 2 of 4");
              yield { job: { jobId: req.jobId, state: JobState.SUCCEEDED, progress: 1, stage: "Finished" } };
              return;
            }
            yield { job: { jobId: req.jobId, state: JobState.RUNNING, progress: 0.5, message: "thinking" } };
            yield { job: { jobId: req.jobId, state: JobState.RUNNING, progress: 0.5 }, outputDelta: "4" };
            const final = req.jobId === "job_failed" ? JobState.FAILED : JobState.SUCCEEDED;
            yield { job: { jobId: req.jobId, state: final, progress: 1 }, outputDelta: "2" };
          },
        }),
    }),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function io(isTTY: boolean, files: Record<string, string> = {}, env: Record<string, string> = {}) {
  const out = { stdout: "", stderr: "" };
  const value: CliIo = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    isTTY,
    env,
    readFile: async (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
      return new TextEncoder().encode(text);
    },
    writeFile: async (path, text) => {
      files[path] = text;
    },
    now: () => 1_700_000_000,
  };
  return { io: value, out };
}

describe("zerog watch", () => {
  it("redraws one live line on a terminal", async () => {
    const { io: tty, out } = io(true);
    expect(await runCli(["watch", "job_1", "--url", url], tty, "0.0.0")).toBe(exitCodes.ok);
    expect(out.stdout).toBe(
      "\r\x1b[2Kjob_1 running ##########---------- 50% thinking" +
        "\r\x1b[2Kjob_1 running ##########---------- 50% 4" +
        "\r\x1b[2Kjob_1 completed #################### 100% 2\n",
    );
  });

  it("shows a fine-tuning job's stage and progress, live on a terminal and as lines otherwise", async () => {
    const { io: tty, out } = io(true);
    tty.columns = 60;
    expect(await runCli(["watch", "job_ft", "--url", url], tty, "0.0.0")).toBe(exitCodes.ok);
    expect(out.stdout.split("\r\x1b[2K")).toEqual([
      "",
      "job_ft running #------------------- 5% [Init] queued at th…",
      "job_ft running #########----------- 45% [Training] trainin…",
      "job_ft completed #################### 100% [Finished]\n",
    ]);
    const { io: pipe, out: lines } = io(false);
    expect(await runCli(["watch", "job_ft", "--url", url], pipe, "0.0.0")).toBe(exitCodes.ok);
    expect(lines.stdout.split("\n")).toEqual([
      "2023-11-14T22:13:20.000Z job_ft running 5% [Init] queued at the provider",
      "2023-11-14T22:13:20.000Z job_ft running 45% [Training] training, step 2 of 4",
      "2023-11-14T22:13:20.000Z job_ft completed 100% [Finished]",
      "",
    ]);
  });

  it("prints plain lines otherwise, and exits 1 when the job fails", async () => {
    const { io: pipe, out } = io(false);
    expect(await runCli(["watch", "job_failed", "--url", url], pipe, "0.0.0")).toBe(exitCodes.failed);
    expect(out.stdout.split("\n")).toEqual([
      "2023-11-14T22:13:20.000Z job_failed running 50% thinking",
      "2023-11-14T22:13:20.000Z job_failed running 50%",
      "4",
      "2023-11-14T22:13:20.000Z job_failed failed 100%",
      "2",
      "",
    ]);
  });
});

describe("zerog usage", () => {
  it.each([
    [["--version"], exitCodes.ok, "zerog 1.2.3\n", ""],
    [[], exitCodes.usage, "", "zerog: missing command"],
    [["status"], exitCodes.usage, "", "zerog: status needs one job id"],
    [["status", "job_1", "--wait"], exitCodes.usage, "", "zerog: status does not take --wait"],
    [
      ["submit", "--model", "m", "--prompt", "p", "--timeout", "5"],
      exitCodes.usage,
      "",
      "--timeout goes with --wait",
    ],
    [["result", "job_1", "--timeout", "soon"], exitCodes.usage, "", "--timeout must be a positive number"],
    [
      ["result", "job_1", "--wait", "--timeout", "3000000"],
      exitCodes.usage,
      "",
      "--timeout must be at most 2147483 seconds (24.8 days), got 3000000",
    ],
    [
      ["submit", "--model", "m", "--task-type", "fine-tuning"],
      exitCodes.usage,
      "",
      "fine-tuning needs one of --dataset or --dataset-file",
    ],
    [
      [
        "submit",
        "--model",
        "m",
        "--task-type",
        "fine-tuning",
        "--dataset",
        "{}",
        "--dataset-file",
        "d.jsonl",
      ],
      exitCodes.usage,
      "",
      "fine-tuning needs one of --dataset or --dataset-file",
    ],
    [
      ["submit", "--model", "m", "--task-type", "fine-tuning", "--dataset-file", "d.jsonl"],
      exitCodes.usage,
      "",
      "cannot read dataset d.jsonl: ENOENT",
    ],
    [
      ["submit", "--model", "m", "--task-type", "fine-tuning", "--dataset", "{}", "--params", "[1]"],
      exitCodes.usage,
      "",
      "--params must be a JSON object",
    ],
    [
      ["submit", "--model", "m", "--prompt", "p", "--dataset", "{}"],
      exitCodes.usage,
      "",
      "--dataset is for fine-tuning (--task-type fine-tuning)",
    ],
    [["verify", "missing.json"], exitCodes.usage, "", "cannot read result missing.json: ENOENT"],
    [["--frobnicate"], exitCodes.usage, "", "Unknown option '--frobnicate'"],
  ])("zerog %j → exit %i", async (argv, code, stdout, stderr) => {
    const { io: pipe, out } = io(false);
    expect(await runCli(argv, pipe, "1.2.3")).toBe(code);
    expect(out.stdout).toBe(stdout);
    if (stderr) expect(out.stderr).toContain(stderr);
    else expect(out.stderr).toBe("");
  });
});

describe("zerog result verifies the proof here", () => {
  const policy = JSON.stringify(testPolicy);

  it("prints the output once the proof verified under --policy or ZEROG_VERIFY_POLICY", async () => {
    const flag = io(false, { "p.json": policy });
    expect(await runCli(["result", "job_real", "--policy", "p.json", "--url", url], flag.io, "0")).toBe(
      exitCodes.ok,
    );
    expect(flag.out.stdout).toBe("The answer is 42.\n");
    // The checks the policy did not require are named: skipped, never passed.
    expect(flag.out.stderr).toBe(
      "zerog: proof verified here under the policy in p.json (--policy); its task not compared (only " +
        "inference tasks submitted here are); skipped: response.hashes (not required), response.enclave_pubkey " +
        "(not required), tee.measurements (not pinned), tee.workload (not pinned), gpu.evidence (not required)\n",
    );
    const env = io(false, { "p.json": policy }, { ZEROG_VERIFY_POLICY: "p.json" });
    expect(await runCli(["result", "job_real", "--url", url], env.io, "0")).toBe(exitCodes.ok);
    expect(env.out.stderr).toContain("under the policy in p.json (ZEROG_VERIFY_POLICY)");
  });

  it("exits 1 without the output when the proof does not verify, naming the devnet policy for a test root", async () => {
    const files: Record<string, string> = {};
    const t = io(false, files);
    expect(await runCli(["result", "job_real", "--out", "r.json", "--url", url], t.io, "0")).toBe(
      exitCodes.failed,
    );
    expect(t.out.stdout).toBe("");
    expect(t.out.stderr).toContain("zerog: the proof of job job_real did not verify: untrusted_root:");
    expect(t.out.stderr).toContain("ZEROG_VERIFY_POLICY=.zerog/devnet-policy.json");
    expect(t.out.stderr).toContain("the result (NOT verified) was written to r.json");
    // The saved result verifies offline under the right policy, from its embedded collateral.
    files["p.json"] = policy;
    const v = io(false, files);
    const now = String(Math.floor(Date.now() / 1000));
    expect(await runCli(["verify", "r.json", "--policy", "p.json", "--now", now], v.io, "0")).toBe(
      exitCodes.ok,
    );
    expect(v.out.stdout).toMatch(/^VALID proof\n/);
    const intel = io(false, files);
    expect(await runCli(["verify", "r.json", "--now", now], intel.io, "0")).toBe(exitCodes.failed);
    expect(intel.out.stdout).toMatch(
      /^INVALID proof: untrusted_root: the quote chains to an untrusted root CA/,
    );
    expect(intel.out.stdout).toContain("ZEROG_VERIFY_POLICY=.zerog/devnet-policy.json");
  });

  it("a tampered output is refused; --no-verify hands it out, saying it was not verified here", async () => {
    const t = io(false, { "p.json": policy });
    expect(await runCli(["result", "job_tampered", "--policy", "p.json", "--url", url], t.io, "0")).toBe(
      exitCodes.failed,
    );
    expect(t.out.stderr).toContain("did not verify: output_mismatch");
    const off = io(false);
    expect(await runCli(["result", "job_tampered", "--no-verify", "--url", url], off.io, "0")).toBe(
      exitCodes.ok,
    );
    expect(off.out.stdout).toBe("The answer is 43.\n");
    expect(off.out.stderr).toBe("zerog: proof NOT verified here (--no-verify)\n");
  });

  it("refuses a bad policy or contradictory flags as usage errors", async () => {
    const bad = io(false, { "p.json": '{"tee":{"mrtd":[]}}' });
    expect(await runCli(["result", "job_real", "--policy", "p.json", "--url", url], bad.io, "0")).toBe(
      exitCodes.usage,
    );
    expect(bad.out.stderr).toContain("policy p.json (--policy): Invalid policy.tee.mrtd");
    const both = io(false, { "p.json": policy });
    expect(await runCli(["result", "job_real", "--policy", "p.json", "--no-verify"], both.io, "0")).toBe(
      exitCodes.usage,
    );
  });
});

describe("zerog on a hostile bridge", () => {
  /** What the CLI printed, less its own live-line redraw: no terminal control, no line of the bridge's. */
  function expectInert(text: string, lines = true) {
    const own = text.replaceAll("\r\u001b[2K", "");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
    expect(own).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    if (lines) expect(own).not.toMatch(/^zerog: proof verified/m);
  }

  it.each([
    [["status", "job_hostile"], true, exitCodes.ok],
    [["status", "job_hostile"], false, exitCodes.ok],
    [["status", "job_hostile", "--json"], true, exitCodes.ok],
    // Its stream ends while the job runs: no end of the job, no working bridge (exit 3).
    [["watch", "job_hostile"], true, exitCodes.unavailable],
    [["watch", "job_hostile"], false, exitCodes.unavailable],
    [["services"], true, exitCodes.ok],
    [["status", "job_gone"], true, exitCodes.usage],
    [["result", "job_hostile", "--no-verify"], true, exitCodes.ok],
    [["result", "job_hostile", "--no-verify", "--json"], true, exitCodes.ok],
  ])("%j (terminal: %s) prints the bridge's text inert", async (argv, isTTY, code) => {
    const t = io(isTTY);
    expect(await runCli([...argv, "--url", url], t.io, "0")).toBe(code);
    // The output of a result keeps its lines (any text a model may write): the verdict comes after it.
    const output = argv[0] === "result" && !argv.includes("--json");
    expectInert(t.out.stdout, !output);
    expectInert(t.out.stderr);
    if (output) expect(t.out.stderr).toBe("zerog: proof NOT verified here (--no-verify)\n");
    expect(t.out.stdout + t.out.stderr).toContain("pwned");
  });

  it("still writes a result's output exactly as it is when stdout is not a terminal", async () => {
    const t = io(false);
    expect(await runCli(["result", "job_hostile", "--no-verify", "--url", url], t.io, "0")).toBe(
      exitCodes.ok,
    );
    expect(t.out.stdout).toBe(forged);
    expect(t.out.stderr).toBe("zerog: proof NOT verified here (--no-verify)\n");
  });
});
