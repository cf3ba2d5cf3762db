import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { ComputeService, JobState } from "@chaoschain/zerog-core";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliIo, exitCodes, runCli } from "./run-cli.js";

/** A bridge stand-in on a real socket, streaming a job that runs, then ends as `final`. */
let server: http2.Http2Server;
let url = "";
beforeAll(async () => {
  server = http2.createServer(
    connectNodeAdapter({
      routes: (router) =>
        router.service(ComputeService, {
          async *watchJob(req) {
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

function io(isTTY: boolean) {
  const out = { stdout: "", stderr: "" };
  const value: CliIo = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    isTTY,
    env: {},
    readFile: async () => {
      throw Object.assign(new Error("no such file"), { code: "ENOENT" });
    },
    writeFile: async () => {},
    now: () => 1_700_000_000,
  };
  return { io: value, out };
}

describe("zerog watch", () => {
  it("redraws one live line on a terminal", async () => {
    const { io: tty, out } = io(true);
    expect(await runCli(["watch", "job_1", "--url", url], tty, "0.0.0")).toBe(exitCodes.ok);
    expect(out.stdout).toBe(
      "\r\x1b[2Kjob_1 running 50% thinking\r\x1b[2Kjob_1 running 50% 4\r\x1b[2Kjob_1 completed 100% 2\n",
    );
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
