import { JobState } from "@chaoschain/zerog-core";
import pino from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { attestedResult, inferenceTask, minute, providerEvidence } from "../../test/stores.js";
import { formatDuration, type Retention, startRetention } from "./retention.js";
import { SqliteJobStore } from "./sqlite-store.js";
import { StorageError } from "./storage-error.js";

const day = 86_400_000;

function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { lines, logger };
}

const opened: Array<{ close(): Promise<void> }> = [];
const sweepers: Retention[] = [];
afterEach(async () => {
  for (const r of sweepers.splice(0)) await r.stop();
  for (const s of opened.splice(0)) await s.close();
});

/** A store with `n` jobs succeeded (their results attested by two providers), one queued and one running. */
async function storeWithJobs(n: number) {
  const store = new SqliteJobStore(":memory:");
  opened.push(store);
  const ended: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = (await store.insert(inferenceTask(`p${i}`), "")).record.job.jobId;
    const [claimed] = await store.claim("bridge", 1, minute);
    const result = attestedResult(id, providerEvidence(`provider-${i % 2}`));
    await store.succeed(id, claimed!.lease, result, "0xabc");
    ended.push(id);
  }
  const running = (await store.insert(inferenceTask("running"), "")).record.job.jobId;
  await store.claim("bridge", 1, minute);
  const queued = (await store.insert(inferenceTask("queued"), "")).record.job.jobId;
  return { store, ended, running, queued };
}

describe("startRetention", () => {
  it("deletes in bounded batches every job ended more than the retention ago, then the unused attestations, logging one line per sweep that deleted something", async () => {
    const { store, ended, running, queued } = await storeWithJobs(5);
    const { lines, logger } = capturedLogger();
    let now = Date.now();
    const batches: number[] = [];
    const deleteEnded = vi.spyOn(store, "deleteEnded");
    const retention = startRetention({
      store,
      logger,
      retentionMs: day,
      batchSize: 2,
      pauseMs: 0,
      now: () => now,
      onDeleted: (n) => batches.push(n),
    });
    sweepers.push(retention);
    // Ended just now: kept, and nothing logged.
    expect(await retention.sweep()).toEqual({ jobs: 0, attestations: 0 });
    expect(lines).toEqual([]);
    now += day + 1000;
    expect(await retention.sweep()).toEqual({ jobs: 5, attestations: 2 });
    expect(batches).toEqual([2, 2, 1]);
    expect(deleteEnded.mock.calls.map(([, limit]) => limit)).toEqual([2, 2, 2, 2]);
    for (const id of ended) expect(await store.get(id)).toBeUndefined();
    expect((await store.get(running))?.job.state).toBe(JobState.RUNNING);
    expect((await store.get(queued))?.job.state).toBe(JobState.QUEUED);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, deletedJobs: 5, deletedAttestations: 2, retention: "1d" });
    expect(lines[0]!.msg).toBe(
      "job retention: deleted 5 jobs ended more than 1d ago, and 2 attestations no result uses",
    );
    // Counts, never ids.
    expect(JSON.stringify(lines)).not.toMatch(/job_/);
    // Nothing left: no line.
    expect(await retention.sweep()).toEqual({ jobs: 0, attestations: 0 });
    expect(lines).toHaveLength(1);
    // A job ended since: deleted once its retention has passed too.
    const late = (await store.insert(inferenceTask("late"), "")).record.job.jobId;
    await store.cancel(late);
    now = Date.now() + day - 60_000;
    expect((await retention.sweep()).jobs).toBe(0);
    now = Date.now() + day + 1000;
    expect((await retention.sweep()).jobs).toBe(1);
  });

  it("shares one sweep among callers, skips while the store has a problem, reports other failures and goes on", async () => {
    const { store } = await storeWithJobs(2);
    const { lines, logger } = capturedLogger();
    const retention = startRetention({
      store,
      logger,
      retentionMs: 1,
      pauseMs: 0,
      now: () => Date.now() + day,
    });
    sweepers.push(retention);
    const full = new StorageError("full", "SQLITE_FULL", ":memory:", "disk full");
    vi.spyOn(store, "deleteEnded").mockRejectedValueOnce(full);
    expect(await retention.sweep()).toEqual({ jobs: 0, attestations: 0 });
    expect(lines).toEqual([]);
    vi.spyOn(store, "deleteEnded").mockRejectedValueOnce(new Error("a bug"));
    expect(await retention.sweep()).toEqual({ jobs: 0, attestations: 0 });
    expect(lines.map((l) => l.msg)).toEqual(["job retention: the sweep failed"]);
    vi.spyOn(store, "problem", "get").mockReturnValueOnce(full);
    expect(await retention.sweep()).toEqual({ jobs: 0, attestations: 0 });
    const [a, b] = [retention.sweep(), retention.sweep()];
    expect(a).toBe(b);
    expect(await a).toEqual({ jobs: 2, attestations: 2 });
  });

  it("refuses a retention of 0 (for ever: do not start it) and names durations by their largest unit", async () => {
    const { logger } = capturedLogger();
    const store = new SqliteJobStore(":memory:");
    opened.push(store);
    expect(() => startRetention({ store, logger, retentionMs: 0 })).toThrow(RangeError);
    expect([30 * day, 12 * 3_600_000, 90 * 60_000, 45_000, day + 1000].map(formatDuration)).toEqual([
      "30d",
      "12h",
      "90m",
      "45s",
      "86401s",
    ]);
  });
});
