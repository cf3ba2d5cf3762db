import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, equals, fromBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ComputeProofSchema,
  ComputeResultSchema,
  ComputeService,
  FailureReason,
  invalidArgument,
  JobSchema,
  JobState,
  type SubmitRequest,
  TaskType,
  toConnectError,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedResult, testPolicy } from "../test/signed-result.js";
import { ZeroGComputeAdapter } from "./adapter.js";
import { ProofVerificationError } from "./errors.js";

/**
 * A scripted ComputeService on a real HTTP/2 socket: it checks what the adapter sends and how it
 * reads answers and errors. The adapter against the real bridge is tested in apps/bridge/test.
 */
const seen: {
  authorization: string | null;
  acceptEncoding: string | null;
  submitted: SubmitRequest[];
  listedStates: JobState[];
  cappedWaits: number[];
} = {
  authorization: null,
  acceptEncoding: null,
  submitted: [],
  listedStates: [],
  cappedWaits: [],
};
const job = (state: JobState, jobId = "job_1") =>
  create(JobSchema, {
    jobId,
    state,
    progress: state === JobState.SUCCEEDED ? 1 : 0.5,
    model: "llama-3-8b",
    taskType: TaskType.INFERENCE,
    providerAddress: "0x1111111111111111111111111111111111111111",
    createTime: timestampFromMs(1_700_000_000_000),
    updateTime: timestampFromMs(1_700_000_005_000),
    ...(state === JobState.FAILED
      ? { error: { reason: FailureReason.PROOF_INVALID, message: "signature mismatch" } }
      : {}),
  });
const impl: Partial<ServiceImpl<typeof ComputeService>> = {
  async submit(req, ctx) {
    seen.authorization = ctx.requestHeader.get("authorization");
    seen.acceptEncoding = ctx.requestHeader.get("grpc-accept-encoding");
    seen.submitted.push(req);
    // One job per task: a bridge giving two different tasks one job id is refused.
    return { jobId: `job_${seen.submitted.length}` };
  },
  async getJob(req) {
    if (req.jobId === "job_failed") return job(JobState.FAILED, req.jobId);
    throw toConnectError(new ZeroGError("job_not_found", `job "${req.jobId}" not found`));
  },
  async getResult(req) {
    if (req.jobId === "job_real") return signedResult(req.jobId);
    if (req.jobId === "job_tampered") return signedResult(req.jobId, { output: "The answer is 43." });
    if (req.jobId === "job_slow")
      throw toConnectError(new ZeroGError("wait_timeout", "job job_slow did not finish"));
    if (req.jobId === "job_capped") {
      // The bridge ends one wait after an hour (maxWaitSeconds), however long a client asks.
      seen.cappedWaits.push(req.timeoutSeconds);
      if (seen.cappedWaits.length === 1) {
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        throw toConnectError(new ZeroGError("wait_timeout", "job job_capped did not finish within 1 s"));
      }
    }
    if (req.jobId === "job_failed") {
      throw toConnectError(
        new ZeroGError("job_failed", "job job_failed failed", { failureReason: "proof_invalid" }),
      );
    }
    return create(ComputeResultSchema, {
      jobId: req.jobId,
      output: "42",
      proof: create(ComputeProofSchema, {
        method: "tee-ml",
        executionHash: "ab".repeat(32),
        enclaveAddress: "0x2222222222222222222222222222222222222222",
        attestation: new Uint8Array([4, 0, 2, 0]),
        tee: { teeType: "tdx", reportData: new Uint8Array([1, 2]) },
        model: "llama-3-8b",
        timestamp: 1_700_000_000n,
      }),
      bridgeChecks: { signatureVerified: true, quoteVerified: true, skipped: [] },
      usage: { promptTokens: 3n, completionTokens: 4n, totalTokens: 7n, feeNeuron: "11000000000" },
    });
  },
  async *watchJob() {
    yield { job: job(JobState.RUNNING), outputDelta: "4" };
    yield { job: job(JobState.SUCCEEDED), outputDelta: "2" };
  },
  async listJobs(req) {
    seen.listedStates = [...req.states];
    throw toConnectError(
      invalidArgument([{ field: "page_token", reason: "INVALID_VALUE", description: "bad token" }]),
    );
  },
  async cancelJob(req) {
    return { job: job(req.jobId === "job_done" ? JobState.SUCCEEDED : JobState.CANCELLED, req.jobId) };
  },
  async listServices() {
    return {
      services: ["llama-3-8b", "gpt-oss-120b", "llama-3-8b"].map((model) => ({ model, gpuType: "H100" })),
    };
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

const demo = {
  task_type: "inference",
  model: "llama-3-8b",
  inputs: { prompt: "hi" },
  verification: "tee-ml",
};

describe("ZeroGComputeAdapter", () => {
  it("submits the original adapter's task dictionary with the API key", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, apiKey: "k-123" });
    try {
      const jobId = await zerog.submit(
        { task_type: "inference", model: "llama-3-8b", inputs: { prompt: "hi" }, verification: "tee-ml" },
        { idempotencyKey: "order-1" },
      );
      expect(jobId).toBe(`job_${seen.submitted.length}`);
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

  it("waits as long as a timer can (24.8 days): the calls reach the bridge, no timer fires at once", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on("warning", onWarning);
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, timeoutSeconds: 2_147_483, verify: false });
    try {
      expect((await zerog.status("job_failed")).status).toBe("failed");
      expect((await zerog.result("job_1", { wait: true, timeoutS: 2_147_483 })).output).toBe("42");
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain("TimeoutOverflowWarning");
    } finally {
      process.off("warning", onWarning);
      zerog.close();
    }
  });

  it("waits again while its timeout lasts when the bridge's own maximum wait ends first", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    try {
      expect((await zerog.result("job_capped", { wait: true, timeoutS: 600 })).output).toBe("42");
      expect(seen.cappedWaits).toHaveLength(2);
      expect(seen.cappedWaits[0]).toBe(600);
      expect(seen.cappedWaits[1]).toBeLessThan(600);
      expect(seen.cappedWaits[1]).toBeGreaterThan(590);
    } finally {
      zerog.close();
    }
  });

  it("rejects a malformed task before any call, naming every field", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    const before = seen.submitted.length;
    const err = await zerog.submit({ task_type: "inference", model: "" }).catch((e: unknown) => e);
    zerog.close();
    expect(err).toBeInstanceOf(ZeroGError);
    expect((err as ZeroGError).code).toBe("invalid_argument");
    expect((err as ZeroGError).violations.map((v) => v.field)).toEqual(["task.model", "task.inputs"]);
    expect(seen.submitted.length).toBe(before);
  });

  it("returns output, proof and usage as plain values, with what the SDK and the Python adapter read", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    const result = await zerog.result("job_1", { wait: true, timeoutS: 5 });
    zerog.close();
    expect(result.success).toBe(true);
    expect(result.output).toBe("42");
    expect(result.proof.method).toBe("tee-ml");
    expect(result.usage).toEqual({
      promptTokens: 3,
      completionTokens: 4,
      totalTokens: 7,
      feeNeuron: 11_000_000_000n,
    });
    // @chaoschain/sdk 0.1.3 (ProcessIntegrity.getTeeAttestation) reads these.
    expect(result.execution_hash).toBe("ab".repeat(32));
    expect(result.verification_method).toEqual({ value: "tee-ml" });
    const encoded = (result.proof as unknown as { toString(e: string): string }).toString("hex");
    expect(
      equals(ComputeProofSchema, fromBinary(ComputeProofSchema, Buffer.from(encoded, "hex")), result.proof),
    ).toBe(true);
    expect(JSON.parse(JSON.stringify(result.metadata))).toEqual(result.metadata);
    expect(result.metadata).toMatchObject({
      job_id: "job_1",
      output: "42",
      usage: { total_tokens: 7, fee_neuron: "11000000000" },
      bridge_checks: { signature_verified: true, quote_verified: true, skipped: [] },
      client_verification: "not_checked",
    });
    expect(result.verification).toBeUndefined();
    // The original Python adapter's { output, proof, raw, job_id }.
    expect(result.job_id).toBe("job_1");
    expect(result.raw.output).toBe("42");
  });

  it("gives the TEE evidence of a job, JSON-safe, as the SDK's attestation(jobId)", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    const att = await zerog.attestation("job_1");
    zerog.close();
    expect(att).toMatchObject({
      job_id: "job_1",
      provider: "0g-compute",
      execution_hash: "ab".repeat(32),
      tee_type: "tdx",
      quote: "04000200",
      report_data: "0102",
      timestamp: "2023-11-14T22:13:20.000Z",
    });
    expect(JSON.parse(JSON.stringify(att))).toEqual(att);
  });

  it("lists the models on offer, and runs inference(model, input) to its result", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    expect(await zerog.getModels()).toEqual(["gpt-oss-120b", "llama-3-8b"]);
    const result = await zerog.inference("llama-3-8b", "What is 0G?");
    expect(result.success && result.output).toBe("42");
    expect(seen.submitted.at(-1)?.task?.inputs?.prompt).toBe("What is 0G?");
    await zerog.inference("llama-3-8b", [{ role: "user", content: "hi" }]);
    expect(seen.submitted.at(-1)?.task?.inputs?.messages[0]?.content).toBe("hi");
    zerog.close();
  });

  it("accepts the task @chaoschain/sdk's process integrity submits", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    // As ProcessIntegrity.getTeeAttestation builds it in @chaoschain/sdk 0.1.3.
    await zerog.submit({
      function: "analyze",
      inputs: { ticker: "0G" },
      model: "gpt-oss-120b",
      prompt: 'Execute function: analyze with inputs: {"ticker":"0G"}',
    });
    expect(seen.submitted.at(-1)?.task).toMatchObject({
      taskType: TaskType.INFERENCE,
      model: "gpt-oss-120b",
      inputs: { prompt: 'Execute function: analyze with inputs: {"ticker":"0G"}' },
    });
    await zerog.submit({ function: "analyze", inputs: { n: 1 }, model: "gpt-oss-120b" });
    expect(seen.submitted.at(-1)?.task?.inputs?.prompt).toBe(
      'Execute function: analyze with inputs: {"n":1}',
    );
    const bad = await zerog
      .submit({ function: 7, model: "gpt-oss-120b", extra: true } as never)
      .catch((e: ZeroGError) => e);
    zerog.close();
    expect((bad as ZeroGError).violations.map((v) => v.field).sort()).toEqual([
      "task.extra",
      "task.function",
    ]);
  });

  it("cancel() answers whether the job is cancelled, as the Python adapter's", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    expect(await zerog.cancel("job_1")).toBe(true);
    expect(await zerog.cancel("job_done")).toBe(false);
    zerog.close();
  });

  it("takes ChaosChain state names (and the contract's) in listJobs", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    await zerog.listJobs({ states: ["pending", "completed", "succeeded"] }).catch(() => {});
    expect(seen.listedStates).toEqual([JobState.QUEUED, JobState.SUCCEEDED, JobState.SUCCEEDED]);
    const bad = await zerog.listJobs({ states: ["done" as never] }).catch((e: ZeroGError) => e);
    zerog.close();
    expect((bad as ZeroGError).violations[0]?.field).toBe("options.states[0]");
  });

  it("gives typed errors, not TypeErrors, for missing or malformed arguments", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    const field = (p: Promise<unknown>) =>
      p.then(
        () => "resolved",
        (e: unknown) => (e instanceof ZeroGError ? `${e.code} ${e.violations[0]?.field}` : String(e)),
      );
    expect(await field(zerog.verify(undefined as never))).toBe("invalid_argument result");
    expect(await field(zerog.verify({ output: "x" }, {}))).toBe("invalid_argument result.proof");
    expect(await field(zerog.result(undefined as never))).toBe("invalid_argument jobId");
    expect(await field(zerog.result("job_1", { wait: "yes" as never }))).toBe(
      "invalid_argument options.wait",
    );
    expect(await field(zerog.result("job_1", { timeoutS: -1 }))).toBe("invalid_argument options.timeoutS");
    expect(await field(zerog.result("job_1", { timeoutS: 3_000_000 }))).toBe(
      "invalid_argument options.timeoutS",
    );
    expect(await field(zerog.result("job_1", null as never))).toBe("resolved");
    expect(await field(zerog.status(""))).toBe("invalid_argument jobId");
    expect(await field(zerog.submit(demo, { idempotencyKey: "a b" }))).toBe(
      "invalid_argument options.idempotencyKey",
    );
    expect(await field(zerog.inference(42 as never, "hi"))).toBe("invalid_argument model");
    // Before: TypeErrors (JSON.stringify of a cyclic or bigint input, states.map), or sent as they were.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const sdkTask = (inputs: unknown) => ({ function: "f", model: "llama-3-8b", inputs }) as never;
    expect(await field(zerog.submit(sdkTask(cyclic)))).toBe("invalid_argument task.inputs");
    expect(await field(zerog.submit(sdkTask({ a: 1n })))).toBe("invalid_argument task.inputs");
    expect(await field(zerog.listJobs({ states: "pending" as never }))).toBe(
      "invalid_argument options.states",
    );
    for (const pageSize of ["10", Number.NaN, -5, 2.5, 1001] as never[]) {
      expect(await field(zerog.listJobs({ pageSize }))).toBe("invalid_argument options.pageSize");
    }
    expect(await field(zerog.listJobs({ pageToken: 5 as never }))).toBe("invalid_argument options.pageToken");
    expect(await field(zerog.listServices({ model: 5 as never }))).toBe("invalid_argument filter.model");
    expect(await field(zerog.listServices({ serviceType: {} as never }))).toBe(
      "invalid_argument filter.serviceType",
    );
    zerog.close();
  });

  it("refuses a request larger than the bridge accepts before sending it", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, maxRequestBytes: 1000 });
    const before = seen.submitted.length;
    const err = await zerog
      .submit({ ...demo, inputs: { messages: [{ role: "user", content: "x".repeat(2000) }] } })
      .catch((e: ZeroGError) => e);
    zerog.close();
    expect(err).toBeInstanceOf(ZeroGError);
    expect((err as ZeroGError).code).toBe("invalid_argument");
    expect((err as ZeroGError).violations[0]).toMatchObject({ field: "task", reason: "OUT_OF_RANGE" });
    expect((err as ZeroGError).message).toMatch(/\d+ bytes, more than the 1000/);
    expect(seen.submitted.length).toBe(before);
  });

  it("turns wire errors into ZeroGError codes, with the failure reason of a failed job", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
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

  it("reports a job's status in ChaosChain's vocabulary, also as the Python adapter's dictionary", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    const status = await zerog.status("job_failed");
    zerog.close();
    expect(status).toMatchObject({
      jobId: "job_failed",
      state: "failed",
      taskType: "inference",
      error: { reason: "proof_invalid", message: "signature mismatch" },
      // { job_id, status, progress, message, updated_at }
      job_id: "job_failed",
      status: "failed",
      progress: 0.5,
      message: "signature mismatch",
      updated_at: "2023-11-14T22:13:25.000Z",
    });
    expect(status.createdAt?.toISOString()).toBe("2023-11-14T22:13:20.000Z");
  });

  it("follows a job with watch() until it ends", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    const updates = [];
    for await (const u of zerog.watch("job_1")) updates.push(u);
    zerog.close();
    expect(updates.map((u) => u.status.state)).toEqual(["running", "completed"]);
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

describe("ZeroGComputeAdapter verifies every result by default", () => {
  /** The rejection of `p`, which must be a ProofVerificationError. */
  const rejection = (p: Promise<unknown>) =>
    p.then(
      () => {
        throw new Error("resolved");
      },
      (e: unknown) => {
        expect(e).toBeInstanceOf(ProofVerificationError);
        return e as ProofVerificationError;
      },
    );

  it("returns the verified report with the result, under the given policy and the embedded collateral", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    const result = await zerog.result("job_real");
    expect(result.verification).toMatchObject({ ok: true, collateral: "embedded", tcbStatus: "UpToDate" });
    expect(result.metadata.client_verification).toBe("verified");
    expect(result.output).toBe("The answer is 42.");
    expect((await zerog.attestation("job_real")).tee_type).toBe("tdx");
    zerog.close();
  });

  it("throws a typed error carrying the report for a tampered output", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    const e = await rejection(zerog.result("job_tampered"));
    const attestation = await zerog.attestation("job_tampered").catch((x: unknown) => x);
    zerog.close();
    expect(e).toBeInstanceOf(ZeroGError);
    expect(e).toMatchObject({ code: "job_failed", failureReason: "proof_invalid", jobId: "job_tampered" });
    expect(e.report).toMatchObject({ ok: false, reason: "output_mismatch" });
    expect(e.raw.output).toBe("The answer is 43.");
    expect(e.shortMessage).toContain("the proof of job job_tampered did not verify: output_mismatch");
    expect(attestation).toBeInstanceOf(ProofVerificationError); // the SDK then keeps no TEE attestation
  });

  it("under Intel's default policy, a test-PKI (devnet) result fails with a hint naming the devnet policy file", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url });
    const e = await rejection(zerog.result("job_real"));
    zerog.close();
    expect(e.report.reason).toBe("untrusted_root");
    expect(e.message).toContain("ZEROG_VERIFY_POLICY=.zerog/devnet-policy.json");
    expect(e.message).toContain("another root than Intel's default policy trusts");
  });

  it("takes the policy from the file ZEROG_VERIFY_POLICY names, and says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "zerog-adapter-"));
    const file = join(dir, "devnet-policy.json");
    writeFileSync(file, JSON.stringify(testPolicy));
    process.env.ZEROG_VERIFY_POLICY = file;
    try {
      const zerog = new ZeroGComputeAdapter({ grpcUrl: url });
      expect((await zerog.result("job_real")).verification?.ok).toBe(true);
      const e = await rejection(zerog.result("job_tampered"));
      zerog.close();
      expect(e.message).toContain(`Checked under the policy in ${file} (ZEROG_VERIFY_POLICY)`);
      writeFileSync(file, JSON.stringify({ tee: { mrtd: [] } }));
      expect(() => new ZeroGComputeAdapter({ grpcUrl: url })).toThrow(
        `the policy in ${file} (ZEROG_VERIFY_POLICY) is not a valid verifier policy: Invalid policy.tee.mrtd`,
      );
      process.env.ZEROG_VERIFY_POLICY = join(dir, "missing.json");
      expect(() => new ZeroGComputeAdapter({ grpcUrl: url })).toThrow(/cannot be read: ENOENT/);
      // an explicit policy wins over the variable
      expect(() => new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } })).not.toThrow();
    } finally {
      delete process.env.ZEROG_VERIFY_POLICY;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("verify: false turns it off explicitly: the result says it was not checked here", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    const result = await zerog.result("job_tampered");
    zerog.close();
    expect(result.verification).toBeUndefined();
    expect(result.metadata.client_verification).toBe("not_checked");
    expect(result.output).toBe("The answer is 43.");
  });

  it("verify() checks a result on demand and returns the report, valid or not", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    const result = await zerog.result("job_tampered");
    expect(await zerog.verify(result, { policy: testPolicy })).toMatchObject({
      ok: false,
      reason: "output_mismatch",
    });
    const genuine = await zerog.result("job_real");
    zerog.close();
    expect((await zerog.verify(genuine, { policy: testPolicy })).ok).toBe(true);
    expect((await zerog.verify(genuine)).reason).toBe("untrusted_root"); // Intel's default policy
  });
});
