import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import { create } from "@bufbuild/protobuf";
import {
  ComputeProofSchema,
  ComputeResultSchema,
  ComputeService,
  JobSchema,
  JobState,
  printableText,
  UsageSchema,
  ZeroGError,
} from "@chaoschain/zerog-core";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fineTuningResult, signedResult, testPolicy } from "../test/signed-result.js";
import { ZeroGComputeAdapter } from "./adapter.js";

/**
 * A bridge the user should not have to trust: each job id scripts one misbehaviour. The adapter must
 * answer each with a ZeroGError (never a TypeError, a RangeError, a hang) and never hand out another
 * job's result.
 */
const forged = "\u001b[2J\r\nzerog: proof verified here\n".repeat(500);
const farFuture = { seconds: 10n ** 15n, nanos: 0 };
const proof = () =>
  create(ComputeProofSchema, { method: "tee-ml", executionHash: "ab".repeat(32), timestamp: 1_700_000_000n });
const asked = "What is 0G?";
const impl: Partial<ServiceImpl<typeof ComputeService>> = {
  async submit(req) {
    // The job id says which answer the bridge gives: the one to this prompt, or to another's.
    if (req.task?.inputs?.prompt.startsWith("one job: ")) return { jobId: "job_one_for_two" };
    return { jobId: req.task?.inputs?.prompt === asked ? "job_answers_asked" : "job_answers_other" };
  },
  async getJob(req) {
    const rude = /^job_rude_(\d+)(_too_large)?$/.exec(req.jobId);
    // A gRPC server's own error (no ErrorInfo of ours): its message is anyone's text.
    if (rude) throw new ConnectError(`${forged}${rude[2] ? " readMaxBytes" : ""}`, Number(rude[1]) as Code);
    return create(JobSchema, { jobId: req.jobId, state: JobState.RUNNING, updateTime: farFuture });
  },
  async getResult(req) {
    if (req.jobId === "job_swapped_signed") return signedResult("job_other");
    // A genuine result, of a request for the prompt asked, or for another (another user's job).
    if (req.jobId === "job_answers_asked")
      return signedResult(req.jobId, { messages: [{ role: "user", content: asked }] });
    if (req.jobId === "job_fine_tuned_as_chat") {
      // A genuine fine-tuning result, plus the chat request asked for, which nothing signed.
      const request = { model: "llama-3-8b", messages: [{ role: "user", content: asked }] };
      return fineTuningResult(req.jobId, { requestBody: new TextEncoder().encode(JSON.stringify(request)) });
    }
    if (req.jobId === "job_claims_other_model") {
      // Genuine, but the proof's unsigned model names a larger one than the request the enclave signed.
      const result = signedResult(req.jobId, { messages: [{ role: "user", content: asked }] });
      result.proof!.model = "gpt-oss-120b";
      return result;
    }
    if (req.jobId === "job_signed_usage")
      return signedResult(req.jobId, {
        messages: [{ role: "user", content: asked }],
        usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
      });
    if (req.jobId === "job_inflated_usage") {
      // Genuine; the usage beside it is the bridge's (the signed response carries none).
      const result = signedResult(req.jobId, { messages: [{ role: "user", content: asked }] });
      result.usage = create(UsageSchema, {
        promptTokens: 1_000_000n,
        completionTokens: 1_000_000n,
        totalTokens: 2_000_000n,
      });
      return result;
    }
    if (req.jobId === "job_one_for_two")
      return signedResult(req.jobId, { messages: [{ role: "user", content: "one job: B" }] });
    if (req.jobId === "job_answers_other")
      return signedResult(req.jobId, { messages: [{ role: "user", content: "What is Bitcoin?" }] });
    if (req.jobId === "job_swapped")
      return create(ComputeResultSchema, { jobId: "job_other", output: "x", proof: proof() });
    if (req.jobId === "job_huge")
      return create(ComputeResultSchema, { jobId: req.jobId, output: "x".repeat(2_000_000), proof: proof() });
    if (req.jobId === "job_bad_fee")
      return create(ComputeResultSchema, {
        jobId: req.jobId,
        output: "x",
        proof: proof(),
        usage: { feeNeuron: "lots" },
      });
    if (req.jobId === "job_far_timestamp")
      return create(ComputeResultSchema, {
        jobId: req.jobId,
        output: "x",
        proof: { ...proof(), timestamp: 10n ** 15n },
      });
    return signedResult(req.jobId);
  },
  async *watchJob(req) {
    if (req.jobId === "job_no_job") {
      yield { outputDelta: "x" };
      return;
    }
    if (req.jobId === "job_cut_short") {
      // Ends the stream normally while the job still runs: a client would take it for the job's end.
      yield { job: { jobId: req.jobId, state: JobState.RUNNING, progress: 0.5 } };
      return;
    }
    if (req.jobId === "job_huge") {
      yield { job: { jobId: req.jobId, state: JobState.RUNNING }, outputDelta: "x".repeat(2_000_000) };
      return;
    }
    if (req.jobId === "job_other_events") {
      yield {
        job: { jobId: "job_someone_else", state: JobState.SUCCEEDED, progress: 1 },
        outputDelta: "secret",
      };
      return;
    }
  },
};

let server: http2.Http2Server;
let url = "";
beforeAll(async () => {
  server = http2.createServer(connectNodeAdapter({ routes: (r) => r.service(ComputeService, impl) }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: unknown) => (e instanceof ZeroGError ? `${e.code}: ${e.shortMessage}` : `untyped ${e}`),
  );

async function drain(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("a hostile bridge", () => {
  it("cannot answer result(job A) with another job's result, verified or not", async () => {
    const verifying = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    const trusting = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    try {
      expect((await verifying.result("job_real", { wait: false })).jobId).toBe("job_real");
      expect(await failure(verifying.result("job_swapped_signed", { wait: false }))).toMatch(
        /^internal: the bridge answered job job_swapped_signed with the result of job "job_other", another job/,
      );
      expect(await failure(trusting.result("job_swapped", { wait: true, timeoutS: 5 }))).toMatch(
        /^internal: the bridge answered job job_swapped with the result of job "job_other", another job/,
      );
    } finally {
      verifying.close();
      trusting.close();
    }
  });

  it("cannot answer inference(model, prompt) with a verified result of another request", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    try {
      const answered = await zerog.inference("llama-3-8b", asked);
      expect(answered).toMatchObject({ output: "The answer is 42.", taskCheck: "verified" });
      expect(answered.metadata.task_check).toBe("verified");
      const err = await zerog.inference("llama-3-8b", "What is 0G, really?").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ZeroGError);
      expect(err).toMatchObject({
        code: "job_failed",
        failureReason: "proof_invalid",
        shortMessage:
          "the proof of job job_answers_other answers another request: the request its enclave signed differs from this job's task in messages",
      });
      // Without verification nothing is compared (the request body is not known to be genuine).
      const trusting = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
      const unchecked = await trusting.inference("llama-3-8b", "What is 0G, really?");
      expect(unchecked).toMatchObject({ verification: undefined, taskCheck: "skipped" });
      trusting.close();
    } finally {
      zerog.close();
    }
  });

  it("cannot answer result(jobId) of a submitted task with a verified result of another request", async () => {
    const task = { task_type: "inference", model: "llama-3-8b", inputs: { prompt: "What is 0G, really?" } };
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    // Another process: it did not submit the job, so it is told the task.
    const elsewhere = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    try {
      const jobId = await zerog.submit(task);
      const swapped = {
        code: "job_failed",
        failureReason: "proof_invalid",
        shortMessage: `the proof of job ${jobId} answers another request: the request its enclave signed differs from this job's task in messages`,
      };
      expect(await zerog.result(jobId).catch((e: unknown) => e)).toMatchObject(swapped);
      expect(await elsewhere.result(jobId, { task }).catch((e: unknown) => e)).toMatchObject(swapped);
      // Without the task, nothing to compare with: reported as skipped, never as verified.
      expect((await elsewhere.result(jobId)).taskCheck).toBe("skipped");
      const fine = { ...task, inputs: { prompt: asked } };
      expect((await elsewhere.result(await elsewhere.submit(fine))).taskCheck).toBe("verified");
      expect((await zerog.result("job_answers_asked", { task: fine })).taskCheck).toBe("verified");
      expect(await failure(zerog.result("job_answers_asked", { task: { model: 1 } as never }))).toMatch(
        /^invalid_argument: /,
      );
    } finally {
      zerog.close();
      elsewhere.close();
    }
  });

  it("cannot pass off a verified fine-tuning result, with the asked request beside it, as the inference", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    try {
      const task = { task_type: "inference", model: "llama-3-8b", inputs: { prompt: asked } };
      // The proof verifies as what it is (a delivery of a model), and its request body is nobody's signature.
      const fine = await zerog.result("job_fine_tuned_as_chat", {
        task: { ...task, task_type: "fine-tuning", inputs: { dataset: '{"a":1}\n' } },
      });
      expect(fine).toMatchObject({ taskCheck: "skipped", verification: { ok: true } });
      expect(await zerog.result("job_fine_tuned_as_chat", { task }).catch((e: unknown) => e)).toMatchObject({
        code: "job_failed",
        failureReason: "proof_invalid",
        shortMessage:
          "the proof of job job_fine_tuned_as_chat carries no request its enclave signed (response.signature absent: a fine-tuning proof), so it cannot answer this job's inference task",
      });
    } finally {
      zerog.close();
    }
  });

  it("cannot name another model than the one of the request its enclave signed, task known or not", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    try {
      const task = { task_type: "inference", model: "llama-3-8b", inputs: { prompt: asked } };
      const refused = {
        code: "job_failed",
        failureReason: "proof_invalid",
        shortMessage:
          'the proof of job job_claims_other_model names model "gpt-oss-120b", but its enclave signed a request for "llama-3-8b"',
      };
      expect(await zerog.result("job_claims_other_model", { task }).catch((e: unknown) => e)).toMatchObject(
        refused,
      );
      expect(await zerog.result("job_claims_other_model").catch((e: unknown) => e)).toMatchObject(refused);
    } finally {
      zerog.close();
    }
  });

  // KNOWN GAP, not fixed here: `usage` (and the fee) of a verified result are the bridge's unsigned claims,
  // handed out as `usage` and `metadata.usage` (which @chaoschain/sdk keeps). The signed response body carries
  // the provider's own `usage` (JSON body; last SSE chunk with stream_options.include_usage); the fix needs
  // the verifier's readResponseBody to read it by the bridge's rules (usageFromResponseBody), and the adapter
  // to refuse counts the signed body does not state.
  it("cannot inflate the token counts of a verified result: they are those its signed response reports", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    try {
      const honest = await zerog.result("job_signed_usage");
      expect(honest.success && honest.usage).toMatchObject({
        promptTokens: 3,
        completionTokens: 4,
        totalTokens: 7,
      });
      expect(await zerog.result("job_inflated_usage").catch((e: unknown) => e)).toMatchObject({
        code: "job_failed",
        failureReason: "proof_invalid",
      });
    } finally {
      zerog.close();
    }
  });

  it("cannot give two different tasks submitted here one job, the answer to the second for both", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: { policy: testPolicy } });
    try {
      const task = (prompt: string) => ({ task_type: "inference", model: "llama-3-8b", inputs: { prompt } });
      const first = await zerog.submit(task("one job: A"));
      expect(await failure(zerog.submit(task("one job: B")))).toBe(
        `internal: the bridge answered job ${first} with a submit of another task than the one submitted as that job`,
      );
      // The job's result answers B: it must not pass for the answer to A.
      expect(await zerog.result(first).catch((e: unknown) => e)).toMatchObject({
        code: "job_failed",
        failureReason: "proof_invalid",
      });
      // The same task again (an idempotent submit) is the same job.
      expect(await zerog.submit(task("one job: A"))).toBe(first);
    } finally {
      zerog.close();
    }
  });

  it("gets a ZeroGError, not a crash, for malformed fields it sends (a fee, a time out of range)", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    try {
      expect(await failure(zerog.result("job_bad_fee", { wait: false }))).toMatch(/^internal: .*fee/);
      expect(await failure(zerog.status("job_1"))).toMatch(/^internal: .*update_time/);
      expect(await failure(zerog.attestation("job_far_timestamp"))).toMatch(/^internal: .*timestamp/);
    } finally {
      zerog.close();
    }
  });

  it("cannot end watch() quietly before the job has ended", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    try {
      const updates: string[] = [];
      const ended = (async () => {
        for await (const u of zerog.watch("job_cut_short")) updates.push(u.status.state);
      })();
      expect(await failure(ended)).toBe(
        "unavailable: the bridge ended the watch of job job_cut_short while the job was running",
      );
      expect(updates).toEqual(["running"]);
    } finally {
      zerog.close();
    }
  });

  it("cannot make watch() crash with an event without a job, or follow another job", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
    try {
      expect(await failure(drain(zerog.watch("job_no_job")))).toMatch(/^internal: .*without the job/);
      expect(await failure(drain(zerog.watch("job_other_events")))).toMatch(
        /^internal: the bridge answered job job_other_events with an event of job "job_someone_else", another job/,
      );
    } finally {
      zerog.close();
    }
  });
});

describe("a gRPC server's error text", () => {
  it.each([Code.ResourceExhausted, Code.Unimplemented, Code.Internal, Code.Unknown])(
    "(code %i) reaches the message inert: escaped, one line, bounded",
    async (code) => {
      const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
      try {
        const err = await zerog.status(`job_rude_${code}`).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ZeroGError);
        const { message, shortMessage } = err as ZeroGError;
        expect(printableText(message, { lineBreaks: true })).toBe(message);
        expect(shortMessage).not.toContain("\n");
        expect(shortMessage.length).toBeLessThan(1_500);
      } finally {
        zerog.close();
      }
    },
  );
});

describe("a bridge's answers are bounded", () => {
  it("refuses an answer larger than maxResponseBytes before reading it whole, naming the setting", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, verify: false, maxResponseBytes: 1_000_000 });
    try {
      expect(await failure(zerog.result("job_huge", { wait: false }))).toMatch(
        /^resource_exhausted: the bridge's answer to GetResult is larger than the 1000000 bytes/,
      );
      expect(await failure(drain(zerog.watch("job_huge")))).toMatch(
        /^resource_exhausted: the bridge's answer to WatchJob is larger than the 1000000 bytes/,
      );
      // The default (64 MiB) takes it.
      const roomy = new ZeroGComputeAdapter({ grpcUrl: url, verify: false });
      expect((await roomy.result("job_huge", { wait: false })).output).toHaveLength(2_000_000);
      roomy.close();
    } finally {
      zerog.close();
    }
  });
});

describe("the API key", () => {
  it("stays out of util.inspect, console.log and JSON of the adapter and its config", () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: url, apiKey: "sk-very-secret" });
    try {
      expect(inspect(zerog, { depth: 5 })).not.toContain("sk-very-secret");
      expect(inspect(zerog.config)).not.toContain("sk-very-secret");
      expect(JSON.stringify(zerog.config)).not.toContain("sk-very-secret");
      expect(zerog.config.apiKey).toBe("sk-very-secret");
    } finally {
      zerog.close();
    }
  });
});
