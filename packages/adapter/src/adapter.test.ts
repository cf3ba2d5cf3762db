import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ComputeProofSchema,
  ComputeResultSchema,
  ComputeService,
  FailureReason,
  invalidArgument,
  JobSchema,
  JobState,
  TaskType,
  toConnectError,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ZeroGComputeAdapter } from "./adapter.js";

/**
 * A scripted ComputeService on a real HTTP/2 socket: it checks what the adapter sends and how it
 * reads answers and errors. The adapter against the real bridge is tested in apps/bridge/test.
 */
const seen: { authorization: string | null; acceptEncoding: string | null; submitted: unknown[] } = {
  authorization: null,
  acceptEncoding: null,
  submitted: [],
};
const job = (state: JobState) =>
  create(JobSchema, {
    jobId: "job_1",
    state,
    progress: state === JobState.SUCCEEDED ? 1 : 0.5,
    model: "llama-3-8b",
    taskType: TaskType.INFERENCE,
    providerAddress: "0x1111111111111111111111111111111111111111",
    createTime: timestampFromMs(1_700_000_000_000),
    ...(state === JobState.FAILED
      ? { error: { reason: FailureReason.PROOF_INVALID, message: "signature mismatch" } }
      : {}),
  });
const impl: Partial<ServiceImpl<typeof ComputeService>> = {
  async submit(req, ctx) {
    seen.authorization = ctx.requestHeader.get("authorization");
    seen.acceptEncoding = ctx.requestHeader.get("grpc-accept-encoding");
    seen.submitted.push(req);
    return { jobId: "job_1" };
  },
  async getJob(req) {
    if (req.jobId === "job_failed") return job(JobState.FAILED);
    throw toConnectError(new ZeroGError("job_not_found", `job "${req.jobId}" not found`));
  },
  async getResult(req) {
    if (req.jobId === "job_slow")
      throw toConnectError(new ZeroGError("wait_timeout", "job job_slow did not finish"));
    if (req.jobId === "job_failed") {
      throw toConnectError(
        new ZeroGError("job_failed", "job job_failed failed", { failureReason: "proof_invalid" }),
      );
    }
    return create(ComputeResultSchema, {
      jobId: req.jobId,
      output: "42",
      proof: create(ComputeProofSchema, { method: "tee-ml" }),
      usage: { promptTokens: 3n, completionTokens: 4n, totalTokens: 7n, feeNeuron: "11000000000" },
    });
  },
  async *watchJob() {
    yield { job: job(JobState.RUNNING), outputDelta: "4" };
    yield { job: job(JobState.SUCCEEDED), outputDelta: "2" };
  },
  async listJobs() {
    throw toConnectError(
      invalidArgument([{ field: "page_token", reason: "INVALID_VALUE", description: "bad token" }]),
    );
  },
};

let server: http2.Http2Server;
let url: string;
beforeAll(async () => {
  server = http2.createServer(
    connectNodeAdapter({ routes: (router: ConnectRouter) => router.service(ComputeService, impl) }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("ZeroGComputeAdapter", () => {
  it("submits the original adapter's task dictionary with the API key", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, apiKey: "k-123" });
    try {
      const jobId = await zerog.submit(
        { task_type: "inference", model: "llama-3-8b", inputs: { prompt: "hi" }, verification: "tee-ml" },
        { idempotencyKey: "order-1" },
      );
      expect(jobId).toBe("job_1");
      expect(seen.authorization).toBe("Bearer k-123");
      // A bridge on this host is asked for uncompressed answers: gzip would only cost CPU.
      expect(seen.acceptEncoding ?? "").not.toMatch(/gzip|br/);
      expect(seen.submitted.at(-1)).toMatchObject({
        idempotencyKey: "order-1",
        task: { model: "llama-3-8b" },
      });
    } finally {
      zerog.close();
    }
  });

  it("rejects a malformed task before any call, naming every field", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url });
    const before = seen.submitted.length;
    const err = await zerog.submit({ task_type: "inference", model: "" }).catch((e: unknown) => e);
    zerog.close();
    expect(err).toBeInstanceOf(ZeroGError);
    expect((err as ZeroGError).code).toBe("invalid_argument");
    expect((err as ZeroGError).violations.map((v) => v.field)).toEqual(["task.model", "task.inputs"]);
    expect(seen.submitted.length).toBe(before);
  });

  it("returns output, proof and usage as plain values", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url });
    const result = await zerog.result("job_1", { wait: true, timeoutS: 5 });
    zerog.close();
    expect(result.output).toBe("42");
    expect(result.proof.method).toBe("tee-ml");
    expect(result.usage).toEqual({
      promptTokens: 3,
      completionTokens: 4,
      totalTokens: 7,
      feeNeuron: 11_000_000_000n,
    });
  });

  it("turns wire errors into ZeroGError codes, with the failure reason of a failed job", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url });
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => "ok",
        (e: ZeroGError) => e.code,
      );
    expect(await codeOf(zerog.status("job_x"))).toBe("job_not_found");
    expect(await codeOf(zerog.result("job_slow"))).toBe("wait_timeout");
    const failed = await zerog.result("job_failed").catch((e: ZeroGError) => e);
    expect((failed as ZeroGError).code).toBe("job_failed");
    expect((failed as ZeroGError).failureReason).toBe("proof_invalid");
    const bad = await zerog.listJobs({ pageToken: "x" }).catch((e: ZeroGError) => e);
    expect((bad as ZeroGError).violations[0]?.field).toBe("page_token");
    zerog.close();
  });

  it("reports a job's status with names and dates", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url });
    const status = await zerog.status("job_failed");
    zerog.close();
    expect(status).toMatchObject({
      jobId: "job_1",
      state: "failed",
      taskType: "inference",
      error: { reason: "proof_invalid", message: "signature mismatch" },
    });
    expect(status.createdAt?.toISOString()).toBe("2023-11-14T22:13:20.000Z");
  });

  it("follows a job with watch() until it ends", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url });
    const updates = [];
    for await (const u of zerog.watch("job_1")) updates.push(u);
    zerog.close();
    expect(updates.map((u) => u.status.state)).toEqual(["running", "succeeded"]);
    expect(updates.map((u) => u.outputDelta).join("")).toBe("42");
  });

  it("says where it tried to connect when the bridge is not running", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: "127.0.0.1:1", timeoutSeconds: 5 });
    const err = await zerog.status("job_1").catch((e: ZeroGError) => e);
    zerog.close();
    expect((err as ZeroGError).code).toBe("unavailable");
    expect((err as ZeroGError).message).toContain("ZEROG_GRPC_URL");
  });
});
