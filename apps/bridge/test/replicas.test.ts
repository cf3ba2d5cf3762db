import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ComputeService,
  FailureReason,
  fromConnectError,
  JobState,
  parseTask,
  RetryInfoSchema,
} from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcTransport, rejection } from "./clients.js";
import { demoTask, waitFor } from "./harness.js";
import { startPostgres, type TestPostgres } from "./postgres.js";
import { type BridgeProcess, spawnBridge } from "./process.js";

// Two bridge processes on one Postgres and the devnet: either one answers for every job, a job runs
// once, a bridge killed mid-job has its jobs taken over by the other when their leases expire, and a
// key's in-flight jobs quota holds across both, as does what each key's jobs are.

let devnet: Devnet;
let postgres: TestPostgres;
let databaseUrl: string;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  [devnet, postgres] = await Promise.all([startDevnet(), startPostgres()]);
  databaseUrl = await postgres.createDatabase();
});
afterAll(async () => {
  for (const b of bridges) await b.dispose();
  await devnet?.close();
  await postgres?.close();
});

async function replica(): Promise<BridgeProcess> {
  const bridge = await spawnBridge(devnet, {
    databaseUrl,
    args: ["--lease-seconds=2", "--provider-timeout=5"],
  });
  bridges.push(bridge);
  return bridge;
}
const parsed = parseTask(demoTask);
if (!parsed.ok) throw new Error("bad task");
const task = (prompt: string) => ({ ...parsed.task, inputs: { ...parsed.task.inputs!, prompt } });
const setLatency = async (latencyMs: number) => {
  for (const p of devnet.providers) await p.setFaults({ latencyMs });
};
/** How many times the providers billed each prompt. */
function billsByPrompt(): Map<string, number> {
  const bills = new Map<string, number>();
  for (const p of devnet.providers) {
    for (const r of p.billedRequests()) bills.set(r.prompt, (bills.get(r.prompt) ?? 0) + 1);
  }
  return bills;
}

describe("two bridges on one Postgres", () => {
  let a: BridgeProcess;
  let b: BridgeProcess;
  beforeAll(async () => {
    [a, b] = await Promise.all([replica(), replica()]);
  });

  it("answers for a job from either bridge: idempotency key, GetJob, WatchJob, GetResult, ListJobs, CancelJob", async () => {
    await setLatency(600);
    const [onA, onB] = [a.compute(), b.compute()];
    const { jobId } = await onA.submit({
      task: task("replicas: watched from the other"),
      idempotencyKey: "k-1",
    });
    expect(
      (await onB.submit({ task: task("replicas: watched from the other"), idempotencyKey: "k-1" })).jobId,
    ).toBe(jobId);
    const states: JobState[] = [];
    const watching = (async () => {
      for await (const event of onB.watchJob({ jobId })) states.push(event.job!.state);
    })();
    const result = await onB.getResult({ jobId, wait: true, timeoutSeconds: 60 });
    expect(result.output).toContain("replicas: watched from the other");
    await watching;
    expect(states.at(-1)).toBe(JobState.SUCCEEDED);
    expect(states).toContain(JobState.RUNNING);
    expect((await onA.getJob({ jobId })).state).toBe(JobState.SUCCEEDED);
    expect((await onB.listJobs({ pageSize: 10 })).jobs.map((j) => j.jobId)).toContain(jobId);

    // A cancellation on one bridge stops the job wherever it runs: it is never charged.
    await setLatency(3000);
    const slow = await onA.submit({ task: task("replicas: cancelled from the other") });
    await waitFor(async () => (await onB.getJob({ jobId: slow.jobId })).state === JobState.RUNNING, {
      what: "the slow job to run",
    });
    expect((await onB.cancelJob({ jobId: slow.jobId })).job?.state).toBe(JobState.CANCELLED);
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect((await onA.getJob({ jobId: slow.jobId })).state).toBe(JobState.CANCELLED);
    await setLatency(0);
  });

  it("a bridge killed mid-job: the other takes its jobs over when their leases expire, and sends none twice", async () => {
    await setLatency(1500);
    const onA = a.compute();
    const prompts = Array.from({ length: 24 }, (_, i) => `replicas: takeover ${i}`);
    const ids = [];
    for (const prompt of prompts) ids.push((await onA.submit({ task: task(prompt) })).jobId);
    // Kill a while it runs jobs whose requests it has sent.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    let held: string[] = [];
    try {
      await waitFor(
        async () => {
          const { rows } = await client.query<{ id: string }>(
            "SELECT id FROM jobs WHERE state = $1 AND lease_owner LIKE $2 AND checkpoint IS NOT NULL",
            [JobState.RUNNING, `%-${a.child.pid}-%`],
          );
          held = rows.map((r) => r.id);
          return held.length >= 2;
        },
        { what: "bridge a to send requests" },
      );
    } finally {
      await client.end();
    }
    a.child.kill("SIGKILL");
    await a.exited;

    const onB = b.compute();
    const jobs = await Promise.all(
      ids.map(async (jobId) => {
        await onB.getResult({ jobId, wait: true, timeoutSeconds: 120 }).catch(() => {});
        return onB.getJob({ jobId });
      }),
    );
    // Every job ended once; the ones a's requests were out for failed, saying why, on b.
    for (const job of jobs) expect([JobState.SUCCEEDED, JobState.FAILED]).toContain(job.state);
    const takenOver = jobs.filter((j) => held.includes(j.jobId));
    expect(takenOver.length).toBe(held.length);
    for (const job of takenOver) {
      expect(job.attempts).toBe(2);
      expect(job.state).toBe(JobState.FAILED);
      expect(job.error?.reason).toBe(FailureReason.INTERRUPTED);
      expect(job.error?.message).toMatch(/not sent again: the provider may have charged for it/);
    }
    expect(jobs.filter((j) => j.state === JobState.SUCCEEDED).length).toBeGreaterThan(0);
    // From the providers' side: no prompt billed twice.
    const bills = billsByPrompt();
    for (const prompt of prompts) expect(bills.get(prompt) ?? 0).toBeLessThanOrEqual(1);
    await setLatency(0);
  });
});

describe("a key's in-flight jobs quota across two bridges on one Postgres", () => {
  const key = "zk_quota_replicas_0123456789abcdef";
  const max = 3;
  let a: BridgeProcess;
  let b: BridgeProcess;
  beforeAll(async () => {
    const url = await postgres.createDatabase();
    const keysFile = join(mkdtempSync(join(tmpdir(), "zerog-keys-")), "keys.json");
    writeFileSync(keysFile, JSON.stringify({ keys: [{ id: "agent-q", key, maxJobsInFlight: max }] }), {
      mode: 0o600,
    });
    const start = () => spawnBridge(devnet, { databaseUrl: url, args: [`--api-keys-file=${keysFile}`] });
    [a, b] = await Promise.all([start(), start()]);
    bridges.push(a, b);
  });

  it("accepts exactly the key's maximum of Submits sent to both at once; a job ended on one frees a place on the other", async () => {
    // Slow providers: the accepted jobs stay queued or running through the test.
    await setLatency(10_000);
    try {
      const [onA, onB] = [a.compute(key), b.compute(key)];
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => (i % 2 ? onA : onB).submit({ task: task(`quota ${i}`) })),
      );
      const accepted = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value.jobId] : []));
      expect(accepted).toHaveLength(max);
      for (const o of outcomes) {
        if (o.status === "fulfilled") continue;
        const err = ConnectError.from(o.reason);
        expect(err.code).toBe(Code.ResourceExhausted);
        expect(fromConnectError(err).code).toBe("quota_exceeded");
        expect(err.rawMessage).toMatch(/API key agent-q has 3 job\(s\) queued or running, its maximum/);
        expect(err.findDetails(RetryInfoSchema)).toHaveLength(1);
      }
      // One job ends (cancelled through A): B accepts one more at once, and then neither accepts any.
      await onA.cancelJob({ jobId: accepted[0]! });
      const next = await onB.submit({ task: task("quota: after one ended") });
      for (const on of [onA, onB])
        expect((await rejection(on.submit({ task: task("quota: over again") }))).code).toBe(
          Code.ResourceExhausted,
        );
      for (const jobId of [...accepted.slice(1), next.jobId]) await onB.cancelJob({ jobId });
    } finally {
      await setLatency(0);
    }
  });
});

describe("each key's jobs across two bridges on one Postgres", () => {
  const keyA = "zk_replica_tenant_a_0123456789ab";
  const keyB = "zk_replica_tenant_b_ba9876543210";
  let one: BridgeProcess;
  let two: BridgeProcess;
  beforeAll(async () => {
    const url = await postgres.createDatabase();
    const keysFile = join(mkdtempSync(join(tmpdir(), "zerog-keys-")), "keys.json");
    writeFileSync(
      keysFile,
      JSON.stringify({
        keys: [
          { id: "agent-a", key: keyA },
          { id: "agent-b", key: keyB },
        ],
      }),
      { mode: 0o600 },
    );
    const start = () => spawnBridge(devnet, { databaseUrl: url, args: [`--api-keys-file=${keysFile}`] });
    [one, two] = await Promise.all([start(), start()]);
    bridges.push(one, two);
  });

  it("a key reaches its job from either bridge, another key from neither: NOT_FOUND as an unknown id; idempotency keys per key", async () => {
    await setLatency(1500);
    try {
      const aOnOne = one.compute(keyA);
      const [aOnTwo, bOnOne, bOnTwo] = [two.compute(keyA), one.compute(keyB), two.compute(keyB)];
      const { jobId } = await aOnOne.submit({ task: task("tenants: a's job"), idempotencyKey: "k-1" });
      // The same idempotency key from b, on the other bridge: b's own job.
      const bJob = await bOnTwo.submit({ task: task("tenants: a's job"), idempotencyKey: "k-1" });
      expect(bJob.jobId).not.toBe(jobId);
      expect((await aOnTwo.submit({ task: task("tenants: a's job"), idempotencyKey: "k-1" })).jobId).toBe(
        jobId,
      );
      // a watches its job from the other bridge while b probes it from both.
      const states: JobState[] = [];
      const watching = (async () => {
        for await (const event of aOnTwo.watchJob({ jobId })) states.push(event.job!.state);
      })();
      const unknown = `job_${"z".repeat(jobId.length - 4)}`;
      for (const b of [bOnOne, bOnTwo]) {
        const calls = [
          (id: string) => b.getJob({ jobId: id }),
          (id: string) => b.getResult({ jobId: id, wait: true, timeoutSeconds: 5 }),
          async (id: string) => {
            for await (const _ of b.watchJob({ jobId: id }));
          },
          (id: string) => b.cancelJob({ jobId: id }),
        ];
        for (const call of calls) {
          const [other, none] = [await rejection(call(jobId)), await rejection(call(unknown))];
          expect(other.code).toBe(Code.NotFound);
          expect(other.rawMessage.replace(jobId, "<id>")).toBe(none.rawMessage.replace(unknown, "<id>"));
        }
        expect((await b.listJobs({ pageSize: 100 })).jobs.map((j) => j.jobId)).toEqual([bJob.jobId]);
      }
      const result = await aOnTwo.getResult({ jobId, wait: true, timeoutSeconds: 60 });
      expect(result.output).toContain("tenants: a's job");
      await watching;
      expect(states.at(-1)).toBe(JobState.SUCCEEDED);
      for (const a of [aOnOne, aOnTwo])
        expect((await a.listJobs({ pageSize: 100 })).jobs.map((j) => j.jobId)).toEqual([jobId]);
      await bOnOne.getResult({ jobId: bJob.jobId, wait: true, timeoutSeconds: 60 });
    } finally {
      await setLatency(0);
    }
  });
});

describe("the README's example of two bridges on one Postgres", () => {
  it("runs as printed (with this test's database and free ports): a job submitted to one is answered by the other", async () => {
    const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Several bridges on one Postgres"));
    const example = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
    const url = /^export ZEROG_DATABASE_URL=(\S+)/m.exec(example)![1]!;
    expect(url).toMatch(/^postgres:\/\//);
    const commands = [...example.matchAll(/^node (.+?) &$/gm)].map((m) => m[1]!.split(/\s+/));
    expect(commands).toHaveLength(2);
    const root = fileURLToPath(new URL("../../../", import.meta.url));
    const database = await postgres.createDatabase();
    const started = commands.map((args) => {
      const child = spawn(
        process.execPath,
        args.map((a) => (a === "50051" || a === "50052" ? "0" : a)),
        {
          cwd: root,
          env: { ...process.env, ZEROG_DATABASE_URL: database, ZEROG_LOG_LEVEL: "warn", ZEROG_API_KEY: "" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        out += d;
      });
      child.stderr!.resume();
      return { child, out: () => out };
    });
    try {
      const ports = await Promise.all(
        started.map((s) =>
          waitFor(() => /serving ComputeService on [^\s]+:(\d+)/.exec(s.out())?.[1], {
            timeoutMs: 120_000,
            what: "the README's bridge to listen",
          }),
        ),
      );
      const sessions: Http2SessionManager[] = [];
      const [first, second] = ports.map((port) =>
        createClient(ComputeService, grpcTransport(`http://127.0.0.1:${port}`, sessions)),
      );
      const { jobId } = await first!.submit({ task: task("the README's replicas") });
      const result = await second!.getResult({ jobId, wait: true, timeoutSeconds: 120 });
      expect(result.output).toContain("the README's replicas");
      for (const s of sessions) s.abort();
    } finally {
      for (const s of started) s.child.kill("SIGTERM");
      await Promise.all(started.map((s) => new Promise((resolve) => s.child.once("exit", resolve))));
    }
  }, 240_000);
});
