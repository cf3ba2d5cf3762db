import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { HealthCheckResponse_ServingStatus, JobState } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { SqliteJobStore } from "../src/jobs/sqlite-store.js";
import { rejection } from "./clients.js";
import { task, waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge, spawnBridgeExpectingFailure } from "./process.js";

let devnet: Devnet;
const bridges: BridgeProcess[] = [];
const mounts: string[] = [];
beforeAll(async () => {
  devnet = await startDevnet();
});
afterAll(async () => {
  for (const b of bridges) await b.dispose();
  for (const m of mounts) execFileSync("umount", ["-l", m]);
  await devnet?.close();
});

/** A fresh tmpfs of `size` (e.g. "4m"); skips the test, saying why, where none can be mounted. */
function tmpfs(size: string, ctx: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "zerog-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    console.warn(`skipped: cannot mount a tmpfs (${String((err as Error).message).split("\n")[0]})`);
    ctx.skip();
  }
  mounts.push(dir);
  return dir;
}

/** Writes `file` until its volume has only `leave` bytes free (or none). */
function fillUp(file: string, leave = 0): void {
  const { bavail, bsize } = statfsSync(dirname(file));
  const fd = openSync(file, "w");
  try {
    const block = Buffer.alloc(64 * 1024, 1);
    for (let left = bavail * bsize - leave; left > 0; left -= block.length) {
      try {
        writeSync(fd, block, 0, Math.min(block.length, left));
      } catch {
        return; // ENOSPC: full
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe("a full disk", () => {
  it("refuses Submits RESOURCE_EXHAUSTED, reports NOT_SERVING, keeps running jobs, and resumes by itself once space returns", async (ctx) => {
    // Room for the WAL and the checkpointed file once space is back (each holds every job).
    const dir = tmpfs("16m", ctx);
    const slow = 3000;
    for (const p of devnet.providers) await p.setFaults({ latencyMs: slow });
    const bridge = await spawnBridge(devnet, { dbPath: join(dir, "jobs.db"), args: ["--concurrency=1"] });
    bridges.push(bridge);
    const compute = bridge.compute();
    const health = bridge.health();

    // Job A runs (slowly); then the disk fills up around the store. A's result holds its 400 kB
    // request: storing it needs more room than any failed write leaves behind in the WAL.
    const running = (
      await compute.submit({ task: task({ inputs: { prompt: `job A ${"a".repeat(400_000)}` } }) })
    ).jobId;
    // Its request sent (the checkpoint before it is on disk): the provider has it.
    const requests = () => devnet.providers.reduce((n, p) => n + p.stats.chatRequests, 0);
    const before = requests();
    await waitFor(async () => (await compute.getJob({ jobId: running })).state === JobState.RUNNING);
    await waitFor(() => requests() > before, { what: "job A's request at the provider" });
    const filler = join(dir, "filler");
    fillUp(filler, 300 * 1024);
    const queued: string[] = [];
    let refusal: ConnectError | undefined;
    for (let i = 0; i < 50 && !refusal; i++) {
      const big = task({ inputs: { prompt: `job ${i} ${"x".repeat(100_000)}` } });
      await compute.submit({ task: big }).then(
        (r) => queued.push(r.jobId),
        (err: unknown) => {
          refusal = err as ConnectError;
        },
      );
    }
    expect(refusal).toBeInstanceOf(ConnectError);
    expect(refusal!.code).toBe(Code.ResourceExhausted);
    expect(refusal!.rawMessage).toMatch(/disk .*full/);
    // Whatever room is left goes too: no write of any size can succeed now.
    fillUp(join(dir, "filler-2"));
    await waitFor(
      async () =>
        (await health.check({ service: "" })).status === HealthCheckResponse_ServingStatus.NOT_SERVING,
      { what: "NOT_SERVING" },
    );
    // The reason, for anyone who may ask health (no key needed): the cause, not the file.
    let reason: string | null = null;
    await health.check({ service: "" }, { onHeader: (h) => (reason = h.get("zerog-not-serving")) });
    expect(reason).toMatch(/disk is full/);
    expect(reason).not.toContain(dir);
    // Job A ends while the disk is full: its outcome waits in memory; the stored state stays RUNNING.
    await waitFor(() => bridge.stderr().includes("outcome not stored yet"), {
      timeoutMs: slow + 10_000,
      what: "job A to end",
    });
    expect((await compute.getJob({ jobId: running })).state).toBe(JobState.RUNNING);
    for (const jobId of queued) expect((await compute.getJob({ jobId })).state).toBe(JobState.QUEUED);
    // A Submit keeps being refused, clearly.
    const again = await rejection(
      compute.submit({ task: task({ inputs: { prompt: "x".repeat(200_000) } }) }),
    );
    expect(again.code).toBe(Code.ResourceExhausted);

    // Space returns: with no call from anyone, the bridge serves again, stores A's result and runs the rest.
    for (const p of devnet.providers) await p.setFaults({});
    rmSync(filler);
    rmSync(join(dir, "filler-2"));
    await waitFor(
      async () => (await health.check({ service: "" })).status === HealthCheckResponse_ServingStatus.SERVING,
      { what: "SERVING again" },
    );
    expect((await compute.getResult({ jobId: running, wait: true, timeoutSeconds: 30 })).output).not.toBe("");
    for (const jobId of queued) {
      const result = await compute.getResult({ jobId, wait: true, timeoutSeconds: 60 });
      expect(result.output).not.toBe("");
    }
    expect((await compute.submit({ task: task() })).jobId).toMatch(/^job_/);
    expect(bridge.child.exitCode).toBeNull();
    expect(bridge.stderr()).not.toMatch(/unhandled|uncaught/i);
  });
});

describe("a store that cannot be used is refused at start, naming the file", () => {
  it("a read-only file system", async (ctx) => {
    const dir = tmpfs("4m", ctx);
    const dbPath = join(dir, "jobs.db");
    const store = new SqliteJobStore(dbPath);
    await store.insert(task(), "");
    await store.close();
    execFileSync("mount", ["-o", "remount,ro", dir]);
    try {
      const refused = await spawnBridgeExpectingFailure(devnet, { dbPath });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(dbPath);
      expect(refused.stderr).toMatch(/read-only/);
    } finally {
      execFileSync("mount", ["-o", "remount,rw", dir]);
    }
  });

  it("a damaged file (PRAGMA quick_check), and a file that is not a database", async () => {
    const dbPath = join(mkdtempSync(join(tmpdir(), "zerog-corrupt-")), "jobs.db");
    const store = new SqliteJobStore(dbPath);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.insert(task({ inputs: { prompt: `job ${i} ${"y".repeat(2000)}` } }), ""),
      ),
    );
    await store.close();
    // Scribble over the middle of the file: b-tree pages, not the header.
    const fd = openSync(dbPath, "r+");
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(statSync(dbPath).size / 2 / 4096) * 4096);
    closeSync(fd);
    const damaged = await spawnBridgeExpectingFailure(devnet, { dbPath });
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain(dbPath);
    expect(damaged.stderr).toMatch(/damaged/);

    const notDb = join(mkdtempSync(join(tmpdir(), "zerog-notdb-")), "jobs.db");
    writeFileSync(
      notDb,
      "this is not a database, it is a text file that happens to be long enough to read a header\n".repeat(
        100,
      ),
    );
    const wrong = await spawnBridgeExpectingFailure(devnet, { dbPath: notDb });
    expect(wrong.stderr).toContain(notDb);
    expect(wrong.stderr).toMatch(/not a SQLite database/);
  });

  it("a folder that cannot be created", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "zerog-nofolder-")), "a-file");
    writeFileSync(file, "");
    const dbPath = join(file, "jobs.db");
    const refused = await spawnBridgeExpectingFailure(devnet, { dbPath });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(dbPath);
  });
});

describe("the store's files", () => {
  it("are created readable by the bridge's user only (0600, folder 0700)", async () => {
    const folder = join(mkdtempSync(join(tmpdir(), "zerog-mode-")), "store");
    const dbPath = join(folder, "jobs.db");
    const bridge = await spawnBridge(devnet, { dbPath });
    bridges.push(bridge);
    await bridge.compute().submit({ task: task() });
    expect(statSync(dbPath).mode & 0o777).toBe(0o600);
    expect(statSync(`${dbPath}-wal`).mode & 0o777).toBe(0o600);
    expect(statSync(folder).mode & 0o777).toBe(0o700);
  });
});
