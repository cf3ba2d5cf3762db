import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejection } from "./clients.js";
import { task } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

let devnet: Devnet;
const bridges: BridgeProcess[] = [];
beforeAll(async () => {
  devnet = await startDevnet();
});
afterAll(async () => {
  for (const b of bridges) await b.dispose();
  await devnet?.close();
});

async function bridge(args: string[]) {
  const b = await spawnBridge(devnet, { args: ["--log-level=info", ...args] });
  bridges.push(b);
  return b;
}

describe("logs of a bridge process", () => {
  it("are JSON on stderr when it is not a terminal (the default), the job id on every job line", async () => {
    const b = await bridge([]);
    const { jobId } = await b.compute().submit({ task: task() });
    await b.compute().getResult({ jobId, wait: true });
    const lines = b.stderr().trim().split("\n");
    expect(lines.length).toBeGreaterThan(3);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const job = lines.map((l) => JSON.parse(l)).filter((l: { msg: string }) => /^job /.test(l.msg));
    expect(job.map((l: { jobId: string }) => l.jobId)).toEqual(job.map(() => jobId));
  });

  it("are readable lines with --log-format pretty (a terminal), never JSON", async () => {
    const b = await bridge(["--log-format=pretty"]);
    const { jobId } = await b.compute().submit({ task: task() });
    await b.compute().getResult({ jobId, wait: true });
    const lines = b.stderr().trim().split("\n");
    expect(
      lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} INFO {2}bridge listening {2}host=127\.0\.0\.1 /.test(l)),
    ).toBe(true);
    expect(lines.some((l) => l.includes(`INFO  job succeeded  jobId=${jobId}`))).toBe(true);
    for (const line of lines) expect(line).not.toMatch(/^\s*\{/);
  });
});

describe("request size limit", () => {
  it("--max-request-bytes refuses a larger request RESOURCE_EXHAUSTED before reading it", async () => {
    const b = await bridge(["--max-request-bytes=65536"]);
    const err = await rejection(
      b.compute().submit({ task: task({ inputs: { prompt: "x".repeat(70_000) } }) }),
    );
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(
      (await b.compute().submit({ task: task({ inputs: { prompt: "x".repeat(60_000) } }) })).jobId,
    ).toMatch(/^job_/);
  });
});
