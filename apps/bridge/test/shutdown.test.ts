import http2 from "node:http2";
import { JobState } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawConnection, rawPost, rejection } from "./clients.js";
import { waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

const graceSeconds = 3;
let devnet: Devnet;
const bridges: BridgeProcess[] = [];
beforeAll(async () => {
  devnet = await startDevnet();
});
afterAll(async () => {
  for (const b of bridges) await b.dispose();
  await devnet?.close();
});

const submitPath = "/chaoschain.zerog.v1.ComputeService/Submit";
const task = { task_type: "inference", model: "llama-3-8b", inputs: { prompt: "a slow job" } };

describe("SIGTERM", () => {
  it("stops intake on open connections, ends streams UNAVAILABLE, requeues running jobs and exits 0 within the grace period", async () => {
    for (const p of devnet.providers) await p.setFaults({ latencyMs: 30_000 });
    const bridge = await spawnBridge(devnet, { args: [`--shutdown-grace=${graceSeconds}`] });
    bridges.push(bridge);

    // A running job, submitted over an HTTP/1.1 keep-alive connection.
    const h1 = await rawConnection(bridge.port);
    h1.socket.write(rawPost(bridge.port, submitPath, { task }));
    const jobId = (
      await waitFor(() => /"jobId":"(job_[^"]+)"/.exec(h1.received()), { what: "the job id" })
    )[1]!;
    const compute = bridge.compute();
    await waitFor(async () => (await compute.getJob({ jobId })).state === JobState.RUNNING, {
      what: "the job to run",
    });
    // On that connection, a GetResult waiting for the job.
    const before = h1.received().length;
    h1.socket.write(
      rawPost(bridge.port, "/chaoschain.zerog.v1.ComputeService/GetResult", {
        jobId,
        wait: true,
        timeoutSeconds: 60,
      }),
    );
    // An idle keep-alive connection, an HTTP/2 session, and a WatchJob stream on the running job.
    const idle = await rawConnection(bridge.port);
    idle.socket.write(rawPost(bridge.port, "/grpc.health.v1.Health/Check", {}));
    await waitFor(() => idle.received().includes("SERVING"), { what: "health" });
    const session = http2.connect(bridge.baseUrl);
    session.on("error", () => {});
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code) => resolve(code)));
    await new Promise((resolve) => session.once("connect", resolve));
    const events: JobState[] = [];
    const watched = (async () => {
      for await (const event of compute.watchJob({ jobId })) events.push(event.job!.state);
    })().then(
      () => "ended normally",
      (err: unknown) => err,
    );
    await waitFor(() => events.length > 0, { what: "the first WatchJob event" });

    const signalled = performance.now();
    bridge.child.kill("SIGTERM");

    // HTTP/2 sessions get GOAWAY; the idle HTTP/1.1 connection is closed at once.
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await idle.closed;
    expect(performance.now() - signalled).toBeLessThan(1000);
    // A Submit sent now on the busy HTTP/1.1 connection is not taken.
    h1.socket.write(
      rawPost(bridge.port, submitPath, { task: { ...task, inputs: { prompt: "submitted after SIGTERM" } } }),
    );
    // The waiting GetResult ends UNAVAILABLE with Connection: close.
    await h1.closed;
    const answers = h1.received().slice(before);
    expect(answers).toMatch(/^HTTP\/1\.1 503/);
    expect(answers.toLowerCase()).toContain("connection: close");
    expect(answers).toContain('"code":"unavailable"');
    expect(answers).not.toContain('"jobId"');
    // The WatchJob stream ends with an error, not as if the job had ended.
    const outcome = await watched;
    expect(outcome).toBeInstanceOf(ConnectError);
    expect((outcome as ConnectError).code).toBe(Code.Unavailable);
    expect(events.every((s) => s === JobState.RUNNING || s === JobState.QUEUED)).toBe(true);
    // Exit 0 within the grace period.
    const exit = await bridge.exited;
    expect(exit.code).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(graceSeconds * 1000 + 1000);
    session.destroy();

    // The running job was requeued; its request had reached the provider, which may charge for it (the
    // attempt policy): the next bridge on the same store does not send it again but fails it, saying so.
    // Nothing else was taken.
    for (const p of devnet.providers) await p.setFaults({});
    const next = await spawnBridge(devnet, { dbPath: bridge.dbPath });
    bridges.push(next);
    const failed = await rejection(next.compute().getResult({ jobId, wait: true, timeoutSeconds: 60 }));
    expect(failed.code).toBe(Code.FailedPrecondition);
    expect(failed.rawMessage).toMatch(/interrupted.*not sent again: the provider may have charged for it/);
    const jobs = (await next.compute().listJobs({})).jobs;
    expect(jobs.map((j) => j.jobId)).toEqual([jobId]);
    expect(jobs[0]!.attempts).toBe(2);
    // The providers received its request once.
    expect(devnet.providers.reduce((n, p) => n + p.stats.chatRequests, 0)).toBe(1);
    next.child.kill("SIGTERM");
    expect((await next.exited).code).toBe(0);
  });
});
