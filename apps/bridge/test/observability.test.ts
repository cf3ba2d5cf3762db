import { execFile } from "node:child_process";
import diagnostics from "node:diagnostics_channel";
import type http from "node:http";
import { promisify } from "node:util";
import { HealthCheckResponse_ServingStatus } from "@chaoschain/zerog-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capturedLogger, demoTask, startTestBridge, type TestBridge, waitFor } from "./harness.js";
import { histogram, parseExposition, sample } from "./prometheus.js";

const run = promisify(execFile);
const apiKey = "zk_metrics_0123456789abcdef0123";
const { logger, lines: logLines } = capturedLogger("debug");

// Every HTTP request the bridge makes to providers, as sent (node's own diagnostics channel).
const providerRequests: Array<{ path: string; traceparent: string | undefined }> = [];
const onRequest = (message: unknown) => {
  const { request } = message as { request: http.ClientRequest };
  const traceparent = request.getHeader("traceparent");
  providerRequests.push({
    path: request.path,
    traceparent: traceparent === undefined ? undefined : String(traceparent),
  });
};

let t: TestBridge;
beforeAll(async () => {
  diagnostics.subscribe("http.client.request.start", onRequest);
  t = await startTestBridge({
    bridge: { apiKey, chainCheckSeconds: 1 },
    logger,
  });
});
afterAll(async () => {
  diagnostics.unsubscribe("http.client.request.start", onRequest);
  await t?.close();
});

const scrape = (headers: Record<string, string> = { authorization: `Bearer ${apiKey}` }) =>
  fetch(`${t.baseUrl}/metrics`, { headers });

describe("GET /metrics", () => {
  it("needs an API key by default when the bridge has keys; text exposition over HTTP/1.1 and HTTP/2", async () => {
    const refused = await scrape({});
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain("--metrics public");
    expect((await scrape({ authorization: "Bearer wrong-key-0000000000000" })).status).toBe(401);
    const ok = await scrape();
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    parseExposition(await ok.text());
    const { stdout } = await run("curl", [
      "-sS",
      "--http2-prior-knowledge",
      "-H",
      `authorization: Bearer ${apiKey}`,
      `${t.baseUrl}/metrics`,
    ]);
    expect(parseExposition(stdout).families.has("zerog_rpc_calls_total")).toBe(true);
    expect((await fetch(`${t.baseUrl}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("counts jobs by state, time per stage, store operations, calls, connections and the ledger", async () => {
    const zerog = t.adapter(apiKey);
    const jobId = await zerog.submit(demoTask);
    await zerog.result(jobId, { wait: true, timeoutS: 60 });
    // The ledger is read after a chain check (every second here), once the job has created it.
    const m = await waitFor(
      async () => {
        const parsed = parseExposition(await (await scrape()).text());
        return (sample(parsed, "zerog_ledger_balance_0g", { balance: "available" }) ?? 0) > 0
          ? parsed
          : undefined;
      },
      { what: "the ledger balance", timeoutMs: 15_000 },
    );
    expect(sample(m, "zerog_jobs", { state: "succeeded" })).toBeGreaterThanOrEqual(1);
    expect(sample(m, "zerog_jobs", { state: "failed" })).toBe(0);
    expect(sample(m, "zerog_jobs_ended_total", { state: "succeeded", reason: "" })).toBeGreaterThanOrEqual(1);
    for (const stage of ["queued", "running", "admission", "provider_request", "proof_fetch", "verification"])
      expect(histogram(m, "zerog_job_stage_seconds", { stage })?.count, stage).toBeGreaterThanOrEqual(1);
    for (const operation of ["insert", "durable", "claim", "succeed"])
      expect(
        histogram(m, "zerog_store_operation_seconds", { operation })?.count,
        operation,
      ).toBeGreaterThanOrEqual(1);
    const submit = "chaoschain.zerog.v1.ComputeService/Submit";
    expect(sample(m, "zerog_rpc_calls_total", { method: submit, code: "ok", key: "default" })).toBe(1);
    expect(histogram(m, "zerog_rpc_duration_seconds", { method: submit })?.count).toBe(1);
    expect(sample(m, "zerog_connections", { protocol: "h2" })).toBeGreaterThanOrEqual(1);
    expect(sample(m, "zerog_connections_accepted_total")).toBeGreaterThanOrEqual(1);
    expect(sample(m, "zerog_ledger_balance_0g", { balance: "total" })).toBeGreaterThan(0);
    expect(sample(m, "zerog_health_serving", { component: "chain" })).toBe(1);
    expect(histogram(m, "zerog_chain_check_seconds")?.count).toBeGreaterThanOrEqual(1);
  });

  it("counts provider errors by reason (providers answering 500: retries, failover, the job fails)", async () => {
    const llama = t.devnet.providers.filter((p) => p.models.includes("llama-3-8b"));
    await Promise.all(llama.map((p) => p.setFaults({ failStatus: 500 })));
    try {
      const zerog = t.adapter(apiKey);
      const jobId = await zerog.submit({ ...demoTask, inputs: { prompt: "fails" } });
      expect(await zerog.result(jobId, { wait: true, timeoutS: 60 }).catch((e: Error) => e.name)).toBe(
        "ZeroGError",
      );
    } finally {
      await Promise.all(llama.map((p) => p.setFaults({})));
    }
    const m = parseExposition(await (await scrape()).text());
    // Two tries on each of the two providers.
    expect(sample(m, "zerog_provider_errors_total", { reason: "provider_error" })).toBe(4);
    expect(sample(m, "zerog_jobs_ended_total", { state: "failed", reason: "provider_unavailable" })).toBe(1);
  });
});

describe("trace context and logs", () => {
  it("continues a caller's traceparent to the provider request, and logs its trace id with the job id", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await fetch(`${t.baseUrl}/chaoschain.zerog.v1.ComputeService/Submit`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${apiKey}`,
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({
        task: { task_type: "inference", model: "llama-3-8b", inputs: { prompt: "traced" } },
      }),
    });
    const { jobId } = (await res.json()) as { jobId: string };
    await t.client(apiKey).getResult({ jobId, wait: true });
    const sent = providerRequests.filter(
      (r) => r.path === "/v1/proxy/chat/completions" && r.traceparent?.includes(traceId),
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]!.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(sent[0]!.traceparent).not.toContain("00f067aa0ba902b7");
    const submitted = logLines
      .map((l) => JSON.parse(l))
      .find((l) => l.msg === "job submitted" && l.jobId === jobId);
    expect(submitted).toMatchObject({ traceId, key: "default" });
  });

  it("puts the job id on every job log line", async () => {
    const jobLines = logLines
      .map((l) => JSON.parse(l) as { msg: string; jobId?: string })
      .filter((l) => /^job /.test(l.msg));
    expect(jobLines.length).toBeGreaterThan(5);
    for (const line of jobLines) expect(line.jobId, line.msg).toMatch(/^job_/);
    expect(logLines.join("")).not.toContain(apiKey);
  });

  it("health stays SERVING throughout", async () => {
    expect((await t.health().check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });
});
