import { HealthCheckResponse_ServingStatus, ZeroGError } from "@chaoschain/zerog-core";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturedLogger, demoTask, startTestBridge, type TestBridge, task } from "./harness.js";

const apiKey = "zk_test_8f3a1c9e2b7d4f60a5c1e3b9d7f2a4c6";
const { logger, lines: logLines } = capturedLogger("trace");

let t: TestBridge;
beforeAll(async () => {
  t = await startTestBridge({ bridge: { apiKey }, logger });
});
afterAll(async () => {
  await t?.close();
});

async function code(promise: Promise<unknown>): Promise<Code | undefined> {
  return promise.then(
    () => undefined,
    (e: unknown) => (e instanceof ConnectError ? e.code : undefined),
  );
}

describe("API key authentication", () => {
  it("refuses calls without a key or with a wrong one (UNAUTHENTICATED)", async () => {
    expect(await code(t.client().getJob({ jobId: "job_x" }))).toBe(Code.Unauthenticated);
    expect(await code(t.client("wrong-key").getJob({ jobId: "job_x" }))).toBe(Code.Unauthenticated);
    expect(await code(t.client(`${apiKey}x`).listJobs({}))).toBe(Code.Unauthenticated);
    expect(await code(t.client().submit({ task: task() }))).toBe(Code.Unauthenticated);
    expect((await t.client(apiKey).listJobs({})).jobs).toEqual([]);
  });

  it("accepts the right key on every method", async () => {
    const client = t.client(apiKey);
    const { jobId } = await client.submit({ task: task() });
    expect((await client.getResult({ jobId, wait: true })).output).not.toBe("");
    expect(await code(client.getJob({ jobId: "job_x" }))).toBe(Code.NotFound);
  });

  it("exempts the health service", async () => {
    const res = await t.health().check({ service: "" });
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  it("reaches the adapter as a ZeroGError with code unauthenticated and a hint", async () => {
    const err = await t
      .adapter()
      .submit(demoTask)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ZeroGError);
    expect((err as ZeroGError).code).toBe("unauthenticated");
    expect((err as ZeroGError).message).toContain("ZEROG_API_KEY");
    const jobId = await t.adapter(apiKey).submit(demoTask);
    expect(jobId).toMatch(/^job_/);
  });

  it("never writes the API key or the wallet key to the log", async () => {
    expect(logLines.length).toBeGreaterThan(5);
    const log = logLines.join("");
    expect(log).not.toContain(apiKey);
    expect(log.toLowerCase()).not.toContain(t.devnet.userPrivateKey.slice(2).toLowerCase());
  });
});
