import { readFileSync } from "node:fs";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import {
  BadRequestSchema,
  type ComputeTask,
  ComputeTaskSchema,
  HealthCheckResponse_ServingStatus,
  JobState,
  taskTypeFromName,
  VerificationMethod,
  verificationFromName,
} from "@chaoschain/zerog-core";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejection } from "./clients.js";
import { startTestBridge, type TestBridge, task, waitFor } from "./harness.js";

let t: TestBridge;
beforeAll(async () => {
  t = await startTestBridge();
});
afterAll(async () => {
  await t?.close();
});

/** The slowest provider setting: only gpt-oss-120b has one provider, so its latency is the job's. */
async function slowJob(ms: number): Promise<string> {
  const provider = t.devnet.providers.find((p) => p.models[0] === "gpt-oss-120b")!;
  await provider.setFaults({ latencyMs: ms });
  const { jobId } = await t.client().submit({ task: task({ model: "gpt-oss-120b" }) });
  return jobId;
}

async function fastAgain(): Promise<void> {
  for (const p of t.devnet.providers) await p.setFaults({});
}

describe("ComputeService over gRPC (HTTP/2, real socket)", () => {
  it("Submit → GetResult(wait) returns the output and a complete proof", async () => {
    const client = t.client();
    const { jobId } = await client.submit({ task: task() });
    expect(jobId).toMatch(/^job_/);
    const result = await client.getResult({ jobId, wait: true, timeoutSeconds: 60 });
    expect(result.jobId).toBe(jobId);
    expect(result.output.length).toBeGreaterThan(0);
    const proof = result.proof!;
    expect(proof.method).toBe("tee-ml");
    expect(proof.signedText).toBe(`${proof.requestHash}:${proof.responseHash}`);
    expect(proof.signature).toMatch(/^0x[0-9a-f]{130}$/);
    expect(proof.enclavePubkey).toMatch(/^0x04[0-9a-f]{128}$/);
    expect(proof.dockerDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(proof.attestation.length).toBeGreaterThan(600);
    expect(proof.requestBody.length).toBeGreaterThan(0);
    expect(proof.responseBody.length).toBeGreaterThan(0);
    expect(proof.chatId).not.toBe("");
    expect(proof.tee?.eventLog).not.toBe("");
    expect(proof.gpu?.nrasToken).not.toBe("");
    expect(Number(proof.timestamp)).toBeGreaterThan(1_700_000_000);
    expect(result.usage?.totalTokens).toBeGreaterThan(0n);
    const job = await client.getJob({ jobId });
    expect(job.state).toBe(JobState.SUCCEEDED);
    expect(job.providerAddress).toBe(proof.providerAddress);
    expect(job.progress).toBe(1);
    expect(job.endTime).toBeDefined();
  });

  it("runs 40 jobs at once: every one succeeds, with no listener-limit warning", async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const client = t.client();
      const results = await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const { jobId } = await client.submit({ task: task({ inputs: { prompt: `concurrent ${i}` } }) });
          return client.getResult({ jobId, wait: true, timeoutSeconds: 60 });
        }),
      );
      expect(new Set(results.map((r) => r.proof!.chatId)).size).toBe(40);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("Submit with a repeated idempotency key returns the same job, never a second", async () => {
    const client = t.client();
    const before = (await client.listJobs({ pageSize: 1000 })).jobs.length;
    const key = `idem-${Date.now()}`;
    const first = await client.submit({ task: task(), idempotencyKey: key });
    const again = await Promise.all(
      [1, 2, 3].map(() => client.submit({ task: task(), idempotencyKey: key })),
    );
    for (const r of again) expect(r.jobId).toBe(first.jobId);
    expect((await client.listJobs({ pageSize: 1000 })).jobs.length).toBe(before + 1);
    const conflict = await rejection(
      client.submit({ task: task({ inputs: { prompt: "another task" } }), idempotencyKey: key }),
    );
    expect(conflict.code).toBe(Code.InvalidArgument);
    expect(conflict.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe("idempotency_key");
  });

  it("GetJob and GetResult answer NOT_FOUND for an unknown job and INVALID_ARGUMENT for an empty id", async () => {
    const client = t.client();
    expect((await rejection(client.getJob({ jobId: "job_nope" }))).code).toBe(Code.NotFound);
    expect((await rejection(client.getResult({ jobId: "job_nope" }))).code).toBe(Code.NotFound);
    const empty = await rejection(client.getJob({ jobId: "" }));
    expect(empty.code).toBe(Code.InvalidArgument);
    expect(empty.rawMessage).toContain("job_id");
  });

  it("GetResult without wait on an unfinished job is FAILED_PRECONDITION; with a short wait DEADLINE_EXCEEDED", async () => {
    const client = t.client();
    const jobId = await slowJob(3000);
    try {
      expect((await rejection(client.getResult({ jobId, wait: false }))).code).toBe(Code.FailedPrecondition);
      const started = Date.now();
      const timeout = await rejection(client.getResult({ jobId, wait: true, timeoutSeconds: 1 }));
      expect(timeout.code).toBe(Code.DeadlineExceeded);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      const result = await client.getResult({ jobId, wait: true, timeoutSeconds: 30 });
      expect(result.output).not.toBe("");
    } finally {
      await fastAgain();
    }
  });

  it("GetResult(wait) honours client cancellation and the bridge keeps serving", async () => {
    const client = t.client();
    const jobId = await slowJob(2000);
    try {
      const controller = new AbortController();
      const waiting = rejection(
        client.getResult({ jobId, wait: true, timeoutSeconds: 30 }, { signal: controller.signal }),
      );
      await waitFor(async () => (await client.getJob({ jobId })).state === JobState.RUNNING);
      controller.abort();
      const err = await waiting;
      expect(err.code).toBe(Code.Canceled);
      expect((await client.getJob({ jobId })).jobId).toBe(jobId);
      await client.getResult({ jobId, wait: true, timeoutSeconds: 30 });
    } finally {
      await fastAgain();
    }
  });

  it("CancelJob cancels a running job; its result is then FAILED_PRECONDITION", async () => {
    const client = t.client();
    const jobId = await slowJob(3000);
    try {
      const waiting = rejection(client.getResult({ jobId, wait: true, timeoutSeconds: 30 }));
      await waitFor(async () => (await client.getJob({ jobId })).state === JobState.RUNNING);
      const { job } = await client.cancelJob({ jobId });
      expect(job?.state).toBe(JobState.CANCELLED);
      expect((await waiting).code).toBe(Code.FailedPrecondition);
      expect((await client.getJob({ jobId })).state).toBe(JobState.CANCELLED);
      const again = await client.cancelJob({ jobId });
      expect(again.job?.state).toBe(JobState.CANCELLED);
    } finally {
      await fastAgain();
    }
  });

  it("WatchJob streams state changes and streamed output until the job ends", async () => {
    const client = t.client();
    const { jobId } = await client.submit({
      task: task({ inputs: { prompt: "Explain TEEs in one line.", stream: true } }),
    });
    const states: JobState[] = [];
    let streamed = "";
    for await (const event of client.watchJob({ jobId })) {
      states.push(event.job!.state);
      streamed += event.outputDelta;
    }
    expect(states.at(-1)).toBe(JobState.SUCCEEDED);
    expect(states).toContain(JobState.RUNNING);
    const result = await client.getResult({ jobId });
    expect(streamed).toBe(result.output);
    expect(new TextDecoder().decode(result.proof!.responseBody)).toContain("data: [DONE]");
  });

  it("WatchJob on an ended job yields it once and ends", async () => {
    const client = t.client();
    const { jobId } = await client.submit({ task: task() });
    await client.getResult({ jobId, wait: true });
    const events = [];
    for await (const e of client.watchJob({ jobId })) events.push(e);
    expect(events).toHaveLength(1);
    expect(events[0]!.job!.state).toBe(JobState.SUCCEEDED);
  });

  it("ListJobs pages newest first and filters by state", async () => {
    const client = t.client();
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push((await client.submit({ task: task({ inputs: { prompt: `page ${i}` } }) })).jobId);
    await Promise.all(ids.map((jobId) => client.getResult({ jobId, wait: true })));
    const page1 = await client.listJobs({ pageSize: 2 });
    expect(page1.jobs.map((j) => j.jobId)).toEqual([ids[2], ids[1]]);
    const page2 = await client.listJobs({ pageSize: 2, pageToken: page1.nextPageToken });
    expect(page2.jobs[0]!.jobId).toBe(ids[0]);
    const succeeded = await client.listJobs({ pageSize: 1000, states: [JobState.SUCCEEDED] });
    expect(succeeded.jobs.every((j) => j.state === JobState.SUCCEEDED)).toBe(true);
    expect((await rejection(client.listJobs({ pageToken: "garbage" }))).code).toBe(Code.InvalidArgument);
    expect((await rejection(client.listJobs({ pageSize: 5000 }))).code).toBe(Code.InvalidArgument);
  });

  it("ListServices lists the on-chain services with verifiability and prices, filtered", async () => {
    const client = t.client();
    const all = await client.listServices({});
    expect(all.services).toHaveLength(3);
    for (const s of all.services) {
      expect(s.verifiability).toBe(VerificationMethod.TEE_ML);
      expect(BigInt(s.inputPriceNeuron)).toBeGreaterThan(0n);
      expect(s.teeSignerAcknowledged).toBe(true);
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    expect((await client.listServices({ model: "llama-3-8b" })).services).toHaveLength(2);
    expect((await client.listServices({ verification: VerificationMethod.ZK_ML })).services).toHaveLength(0);
  });

  it("serves grpc.health.v1", async () => {
    const res = await t.health().check({ service: "" });
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const named = await t.health().check({ service: "chaoschain.zerog.v1.ComputeService" });
    expect(named.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await rejection(t.health().check({ service: "nope" }))).code).toBe(Code.NotFound);
  });

  it("refuses a verification mode no provider offers with FAILED_PRECONDITION naming what is on offer", async () => {
    const err = await rejection(t.client().submit({ task: task({ verification: "zk-ml" }) }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toContain("on offer: tee-ml");
    const model = await rejection(t.client().submit({ task: task({ model: "no-such-model" }) }));
    expect(model.code).toBe(Code.FailedPrecondition);
    expect(model.rawMessage).toContain("llama-3-8b");
  });
});

describe("malformed tasks", () => {
  interface Case {
    name: string;
    patch: Record<string, unknown>;
    field: string;
  }
  const table = JSON.parse(
    readFileSync(new URL("../../../packages/core/test/malformed-tasks.json", import.meta.url), "utf8"),
  ) as { base: Record<string, unknown>; cases: Case[] };

  /**
   * The wire message for a case, built without the client-side validator (as a client in another
   * language would send it): unknown enum names become an unknown enum number.
   */
  function wireTask(c: Case): ComputeTask {
    const json: Record<string, unknown> = { ...table.base, ...c.patch };
    for (const [k, v] of Object.entries(json)) if (v === null) delete json[k];
    if (typeof json.task_type === "string") json.task_type = taskTypeFromName(json.task_type) ?? 42;
    if (typeof json.verification === "string")
      json.verification = verificationFromName(json.verification) ?? 42;
    return fromJson(ComputeTaskSchema, json as JsonValue);
  }

  it("has at least 20 cases", () => expect(table.cases.length).toBeGreaterThanOrEqual(20));

  it.each(table.cases)("$name → INVALID_ARGUMENT naming $field", async (c) => {
    const err = await rejection(t.client().submit({ task: wireTask(c) }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain(c.field);
    const fields = err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
    expect(fields).toContain(c.field);
  });

  it("a missing task is INVALID_ARGUMENT naming task", async () => {
    const err = await rejection(t.client().submit({}));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("task: a task is required");
  });
});
