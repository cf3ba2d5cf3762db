import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTask, startTestBridge, type TestBridge } from "./harness.js";

const protoRoot = fileURLToPath(new URL("../../../proto", import.meta.url));

let t: TestBridge;
beforeAll(async () => {
  t = await startTestBridge();
});
afterAll(async () => {
  await t?.close();
});

/** The original adapter's task, in proto3 JSON (enum names) as other-language clients send it. */
const protoJsonTask = {
  task_type: "TASK_TYPE_INFERENCE",
  model: "llama-3-8b",
  inputs: { prompt: "What is blockchain?" },
  verification: "VERIFICATION_METHOD_TEE_ML",
};

function grpcJsClient() {
  const definition = protoLoader.loadSync("chaoschain/zerog/v1/compute.proto", {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    chaoschain: { zerog: { v1: { ComputeService: grpc.ServiceClientConstructor } } };
  };
  return new pkg.chaoschain.zerog.v1.ComputeService(
    `127.0.0.1:${t.running.address.port}`,
    grpc.credentials.createInsecure(),
  );
}

function unary<Res>(client: grpc.Client, method: string, request: unknown): Promise<Res> {
  return new Promise((resolve, reject) => {
    (
      client as unknown as Record<
        string,
        (r: unknown, cb: (e: grpc.ServiceError | null, res: Res) => void) => void
      >
    )[method]!(request, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

async function connectJson(
  path: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${t.baseUrl}/chaoschain.zerog.v1.ComputeService/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe("one task, every protocol, one port", () => {
  it("gRPC from @grpc/grpc-js (another implementation, HTTP/2)", async () => {
    const client = grpcJsClient();
    try {
      const { job_id } = await unary<{ job_id: string }>(client, "Submit", { task: protoJsonTask });
      expect(job_id).toMatch(/^job_/);
      const result = await unary<{ output: string; proof: { method: string; signed_text: string } }>(
        client,
        "GetResult",
        { job_id, wait: true, timeout_seconds: 60 },
      );
      expect(result.output).not.toBe("");
      expect(result.proof.method).toBe("tee-ml");
      const events: Array<{ job: { state: string } }> = [];
      await new Promise<void>((resolve, reject) => {
        const stream = (
          client as unknown as { WatchJob(r: unknown): grpc.ClientReadableStream<{ job: { state: string } }> }
        ).WatchJob({ job_id });
        stream.on("data", (e) => events.push(e));
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      expect(events.at(-1)?.job.state).toBe("JOB_STATE_SUCCEEDED");
      const bad = await unary(client, "Submit", { task: { ...protoJsonTask, model: "" } }).catch(
        (e: grpc.ServiceError) => e,
      );
      expect((bad as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
      expect((bad as grpc.ServiceError).details).toContain("task.model");
    } finally {
      client.close();
    }
  });

  it("Connect JSON over HTTP/1.1 (fetch)", async () => {
    const submit = await connectJson("Submit", { task: protoJsonTask });
    expect(submit.status).toBe(200);
    const jobId = submit.json.jobId as string;
    const result = await connectJson("GetResult", { jobId, wait: true, timeoutSeconds: 60 });
    expect(result.status).toBe(200);
    expect(result.json.output).toBeTypeOf("string");
    expect((result.json.proof as Record<string, unknown>).signedText).toMatch(/^[0-9a-f]{64}:[0-9a-f]{64}$/);
    const missing = await connectJson("GetJob", { jobId: "job_missing" });
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe("not_found");
    const invalid = await connectJson("Submit", { task: { ...protoJsonTask, inputs: {} } });
    expect(invalid.status).toBe(400);
    expect(invalid.json.code).toBe("invalid_argument");
    expect(invalid.json.message).toContain("task.inputs.prompt");
  });

  it("Connect JSON with curl, HTTP/1.1 without prior knowledge", async () => {
    const run = promisify(execFile);
    const { stdout } = await run("curl", [
      "--silent",
      "--show-error",
      "--http1.1",
      "-H",
      "content-type: application/json",
      "--data",
      JSON.stringify({ task: protoJsonTask }),
      `${t.baseUrl}/chaoschain.zerog.v1.ComputeService/Submit`,
    ]);
    const { jobId } = JSON.parse(stdout) as { jobId: string };
    expect(jobId).toMatch(/^job_/);
    const job = await run("curl", [
      "--silent",
      "--http2-prior-knowledge",
      "-H",
      "content-type: application/json",
      "--data",
      JSON.stringify({ jobId }),
      `${t.baseUrl}/chaoschain.zerog.v1.ComputeService/GetJob`,
    ]);
    expect(JSON.parse(job.stdout).jobId).toBe(jobId);
  });

  it("gRPC-web over HTTP/1.1 (what browsers speak)", async () => {
    const { createGrpcWebTransport } = await import("@connectrpc/connect-node");
    const { createClient } = await import("@connectrpc/connect");
    const { ComputeService } = await import("@chaoschain/zerog-core");
    const client = createClient(
      ComputeService,
      createGrpcWebTransport({ baseUrl: t.baseUrl, httpVersion: "1.1" }),
    );
    const services = await client.listServices({});
    expect(services.services.length).toBe(3);
  });

  it("the adapter, with the original adapter's task dictionary", async () => {
    const zerog = t.adapter();
    const jobId = await zerog.submit(demoTask);
    const status = await zerog.status(jobId);
    expect(["pending", "running", "completed"]).toContain(status.state);
    // Verified by the adapter under the devnet's policy (its test PKI), with the collateral the proof embeds.
    const result = await zerog.result(jobId, { wait: true, timeoutS: 60 });
    const { output, proof, usage } = result;
    expect(output).not.toBe("");
    expect(result.verification).toMatchObject({ ok: true, collateral: "embedded" });
    const forged = await zerog.verify({ ...result, output: `${output}!` });
    expect(forged.ok).toBe(false);
    expect(forged.reason).toBe("output_mismatch");
    expect(proof.enclaveAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect(usage.totalTokens).toBeGreaterThan(0);
    expect((await zerog.status(jobId)).state).toBe("completed");
  });

  it("refuses CORS preflights when no origin is configured and no API key is required", async () => {
    const res = await fetch(`${t.baseUrl}/chaoschain.zerog.v1.ComputeService/Submit`, {
      method: "OPTIONS",
      headers: { origin: "http://example.test", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
