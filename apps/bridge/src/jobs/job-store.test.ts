import { create, toBinary } from "@bufbuild/protobuf";
import {
  ComputeProofSchema,
  type ComputeResult,
  ComputeResultSchema,
  FailureReason,
  JobState,
  ZeroGError,
} from "@chaoschain/zerog-core";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  attestedResult,
  inferenceTask,
  minute,
  postgresKind,
  providerEvidence,
  type StoreKind,
  sqliteKind,
  usePostgres,
} from "../../test/stores.js";
import type { JobChange, JobStore, JobStoreHooks, Lease, Submitter } from "./job-store.js";
import type { AttestationCache } from "./stored-results.js";

// One suite, run against each store: what the bridge relies on, whichever database holds the jobs.

const task = inferenceTask;
const postgres = usePostgres();
const kinds: StoreKind[] = [sqliteKind(), postgresKind(postgres)];

describe.each(kinds)("$name job store", (kind) => {
  const opened: JobStore[] = [];
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close().catch(() => {});
  });
  async function open(hooks?: JobStoreHooks, at?: string) {
    const out = await kind.open(hooks, at);
    opened.push(out.store);
    return out;
  }
  const insert = async (store: JobStore, prompt?: string, key = "") =>
    (await store.insert(task(prompt), key)).record.job.jobId;
  const claimOne = async (store: JobStore, owner = "bridge-a", leaseMs = minute) => {
    const [claimed] = await store.claim(owner, 1, leaseMs);
    if (!claimed) throw new Error("nothing to claim");
    return claimed;
  };

  it("keeps a queued job across a reopen", async () => {
    const { store, at } = await open();
    const { record, created } = await store.insert(task(), "");
    expect(created).toBe(true);
    expect(record.job.state).toBe(JobState.QUEUED);
    expect(record.job.jobId).toMatch(/^job_[0-9a-z]+$/);
    await store.durable();
    await store.close();
    const { store: reopened } = await open(undefined, at);
    const again = await reopened.get(record.job.jobId);
    expect(again?.task.inputs?.prompt).toBe("What is blockchain?");
    expect(again?.job.model).toBe("llama-3-8b");
    expect(await reopened.get("job_missing")).toBeUndefined();
  });

  it("gives a repeated idempotency key the first job, also within one batch, and refuses it for another task", async () => {
    const { store } = await open();
    const together = await Promise.all([
      store.insert(task(), "key-1"),
      store.insert(task(), "key-1"),
      store.insert(task(), ""),
      store.insert(task(), ""),
    ]);
    expect(together.map((r) => r.created)).toEqual([true, false, true, true]);
    expect(together[1]!.record.job.jobId).toBe(together[0]!.record.job.jobId);
    expect(together[2]!.record.job.jobId).not.toBe(together[3]!.record.job.jobId);
    expect((await store.insert(task(), "key-1")).record.job.jobId).toBe(together[0]!.record.job.jobId);
    const conflicts = await Promise.allSettled([
      store.insert(task("other"), "key-1"),
      store.insert(task(), "key-2"),
    ]);
    expect(conflicts[0]).toMatchObject({ status: "rejected", reason: expect.any(ZeroGError) });
    expect(((conflicts[0] as PromiseRejectedResult).reason as ZeroGError).code).toBe("invalid_argument");
    expect(conflicts[1]).toMatchObject({ status: "fulfilled", value: { created: true } });
    expect((await store.list({ states: [], pageSize: 10 })).records).toHaveLength(4);
  });

  it("stores many inserts made at once, in order, each once", async () => {
    const { store } = await open();
    const ids = await Promise.all(Array.from({ length: 300 }, (_, i) => insert(store, `p${i}`)));
    expect(new Set(ids).size).toBe(300);
    await store.durable();
    const listed = (await store.list({ states: [JobState.QUEUED], pageSize: 1000 })).records.map(
      (r) => r.job.jobId,
    );
    expect(listed.reverse()).toEqual(ids);
  });

  it("moves a job through guarded transitions, reporting each change with a growing version", async () => {
    const changes: JobChange[] = [];
    const { store } = await open({ onChange: (c) => changes.push(c) });
    const id = await insert(store);
    const claimed = await claimOne(store);
    expect(claimed.job).toMatchObject({ jobId: id, state: JobState.RUNNING, attempts: 1 });
    expect(claimed.lease).toEqual({ owner: "bridge-a", attempt: 1 });
    const updated = await store.update(claimed.job, claimed.lease, {
      progress: 0.5,
      provider: "0xabc",
      stage: "Training",
      message: "step 1 of 2",
    });
    expect(updated).toEqual((await store.get(id))?.job);
    const result = create(ComputeResultSchema, { jobId: id, output: "42" });
    expect(await store.succeed(id, claimed.lease, result, "0xabc")).toBe(true);
    expect(await store.fail(id, claimed.lease, FailureReason.INTERNAL, "late")).toBe(false);
    expect(await store.cancel(id)).toBe(false);
    expect(await store.requeue(id, claimed.lease)).toBe(false);
    const done = await store.get(id);
    expect(done?.job).toMatchObject({
      state: JobState.SUCCEEDED,
      progress: 1,
      message: "",
      stage: "Training",
    });
    expect(done?.job.endTime).toBeDefined();
    expect((await store.result(id))?.output).toBe("42");
    expect(changes.map((c) => c.job.state)).toEqual([
      JobState.QUEUED,
      JobState.RUNNING,
      JobState.RUNNING,
      JobState.SUCCEEDED,
    ]);
    expect(changes.at(-1)?.result?.output).toBe("42");
    const versions = changes.map((c) => c.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    expect(done?.version).toBe(versions.at(-1));
  });

  it("claims the oldest queued jobs first, up to the limit, and counts attempts across requeues", async () => {
    const { store } = await open();
    const [a, b, c] = [await insert(store, "a"), await insert(store, "b"), await insert(store, "c")];
    const first = await store.claim("bridge-a", 2, minute);
    expect(first.map((j) => j.job.jobId)).toEqual([a, b]);
    expect(await store.requeue(a!, first[0]!.lease)).toBe(true);
    const again = await store.claim("bridge-b", 5, minute);
    expect(again.map((j) => j.job.jobId)).toEqual([a, c]);
    expect(again[0]!.lease).toEqual({ owner: "bridge-b", attempt: 2 });
    expect(await store.claim("bridge-a", 5, minute)).toEqual([]);
  });

  it("refuses every write of an attempt that no longer holds the job", async () => {
    const { store } = await open();
    const id = await insert(store);
    const first = await claimOne(store, "bridge-a");
    expect(await store.requeue(id, first.lease)).toBe(true);
    const second = await claimOne(store, "bridge-b");
    const stale: Lease[] = [
      first.lease,
      { owner: "bridge-b", attempt: 1 },
      { owner: "bridge-a", attempt: 2 },
    ];
    for (const lease of stale) {
      expect(await store.update(second.job, lease, { progress: 0.9 })).toBeUndefined();
      expect(await store.checkpoint(id, lease, { step: 9 })).toBe(false);
      expect(await store.succeed(id, lease, create(ComputeResultSchema, { output: "x" }), "0x")).toBe(false);
      expect(await store.fail(id, lease, FailureReason.INTERNAL, "x")).toBe(false);
      expect(await store.requeue(id, lease)).toBe(false);
    }
    const job = (await store.get(id))!;
    expect(job.job).toMatchObject({ state: JobState.RUNNING, progress: 0, attempts: 2 });
    expect(job.checkpoint).toBeUndefined();
    expect(await store.checkpoint(id, second.lease, { step: 1 })).toBe(true);
  });

  it("keeps stage, message and checkpoint across a reopen; a requeue keeps the checkpoint, clears the message", async () => {
    const { store, at } = await open();
    const id = await insert(store);
    const claimed = await claimOne(store);
    expect(claimed.checkpoint).toBeUndefined();
    await store.update(claimed.job, claimed.lease, {
      progress: 0.45,
      stage: "Training",
      message: "step 2 of 4",
    });
    expect(await store.checkpoint(id, claimed.lease, { kind: "fine-tuning", taskId: "t-1" })).toBe(true);
    await store.durable();
    await store.close();
    const { store: reopened } = await open(undefined, at);
    const running = (await reopened.get(id))!;
    expect(running.job).toMatchObject({ progress: 0.45, stage: "Training", message: "step 2 of 4" });
    expect(running.checkpoint).toEqual({ kind: "fine-tuning", taskId: "t-1" });
    expect(await reopened.requeue(id, claimed.lease)).toBe(true);
    const next = await claimOne(reopened, "bridge-b");
    expect(next).toMatchObject({ checkpoint: { taskId: "t-1" }, job: { stage: "Training", message: "" } });
  });

  it("reads a checkpoint that is not a JSON object as none", async () => {
    const { store, at } = await open();
    const id = await insert(store);
    await claimOne(store);
    await kind.exec(at, "UPDATE jobs SET checkpoint = '[1' WHERE id = ?", [id]);
    expect((await store.get(id))?.checkpoint).toBeUndefined();
    await kind.exec(at, "UPDATE jobs SET checkpoint = '[1, 2]' WHERE id = ?", [id]);
    expect((await store.get(id))?.checkpoint).toBeUndefined();
  });

  it("renews the leases an owner holds, and not those of jobs it lost", async () => {
    const { store } = await open();
    const [a, b, c] = [await insert(store), await insert(store), await insert(store)];
    await store.claim("bridge-a", 2, 1);
    await store.claim("bridge-b", 1, minute);
    expect(await store.cancel(b!)).toBe(true);
    expect(await store.renew("bridge-a", minute)).toEqual(new Set([a]));
    expect(await store.renew("bridge-b", minute)).toEqual(new Set([c]));
    // Renewed for a minute: not expired.
    expect(await store.releaseExpired(3)).toEqual({ requeued: [], failed: [] });
  });

  it("puts jobs whose lease expired back in the queue with their checkpoint, and fails them once their attempts are used", async () => {
    const { store } = await open();
    const [a, b] = [await insert(store, "a"), await insert(store, "b")];
    const held = await store.claim("bridge-a", 2, 1);
    await store.checkpoint(a!, held[0]!.lease, { sent: true });
    await store.renew("bridge-a", minute);
    // Not expired: nothing released, unless everything is (a store no other bridge uses).
    expect(await store.releaseExpired(3)).toEqual({ requeued: [], failed: [] });
    expect(await store.releaseExpired(3, { all: true })).toEqual({ requeued: [a, b], failed: [] });
    const second = await store.claim("bridge-b", 2, 1);
    expect(second.map((j) => [j.job.jobId, j.lease.attempt, j.checkpoint])).toEqual([
      [a, 2, { sent: true }],
      [b, 2, undefined],
    ]);
    // Their leases of 1 ms expire.
    let released = { requeued: [] as string[], failed: [] as string[] };
    await vi.waitFor(async () => {
      released = await store.releaseExpired(2);
      expect(released.failed).toEqual([a, b]);
    });
    const failed = (await store.get(a!))!.job;
    expect(failed.state).toBe(JobState.FAILED);
    expect(failed.error).toMatchObject({
      reason: FailureReason.INTERRUPTED,
      message: "the bridge stopped 2 times while this job ran; submit it again",
    });
    expect(await store.succeed(a!, second[0]!.lease, create(ComputeResultSchema, {}), "0x")).toBe(false);
  });

  it("cancels a queued or running job whoever runs it, and then refuses the runner's writes", async () => {
    const { store } = await open();
    const [a, b] = [await insert(store), await insert(store)];
    const claimed = await claimOne(store);
    expect(claimed.job.jobId).toBe(a);
    expect(await store.cancel(a!)).toBe(true);
    expect(await store.cancel(b!, "not needed")).toBe(true);
    expect((await store.get(b!))?.job.error?.message).toBe("not needed");
    expect((await store.get(a!))?.job.state).toBe(JobState.CANCELLED);
    expect(await store.update(claimed.job, claimed.lease, { progress: 0.3 })).toBeUndefined();
    expect(await store.succeed(a!, claimed.lease, create(ComputeResultSchema, {}), "0x")).toBe(false);
    expect(await store.claim("bridge-a", 5, minute)).toEqual([]);
  });

  it("records the failure reason and message", async () => {
    const { store } = await open();
    const id = await insert(store);
    const claimed = await claimOne(store);
    expect(await store.fail(id, claimed.lease, FailureReason.PROOF_INVALID, "signature mismatch")).toBe(true);
    expect((await store.get(id))?.job.error).toMatchObject({
      reason: FailureReason.PROOF_INVALID,
      message: "signature mismatch",
    });
  });

  it("stores texts a provider chose whatever they hold: a NUL (which Postgres text refuses) reads back as U+FFFD", async () => {
    const { store } = await open();
    const id = await insert(store);
    const claimed = await claimOne(store);
    await store.update(claimed.job, claimed.lease, { stage: "Train\u0000ing", message: "step\u0000 1" });
    expect((await store.get(id))?.job).toMatchObject({ stage: "Train\ufffding", message: "step\ufffd 1" });
    const failed = "provider http://p answered 500: bad\u0000thing";
    expect(await store.fail(id, claimed.lease, FailureReason.PROVIDER_ERROR, failed)).toBe(true);
    expect((await store.get(id))?.job.error?.message).toBe("provider http://p answered 500: bad\ufffdthing");
    const other = await insert(store);
    expect(await store.cancel(other, "cancelled\u0000")).toBe(true);
    expect((await store.get(other))?.job.error?.message).toBe("cancelled\ufffd");
  });

  it("pages newest first, filters by state, counts states and reads several jobs at once", async () => {
    const { store } = await open();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await insert(store, `p${i}`));
    await claimOne(store);
    const page1 = await store.list({ states: [], pageSize: 2 });
    expect(page1.records.map((r) => r.job.jobId)).toEqual([ids[4], ids[3]]);
    const page2 = await store.list({ states: [], pageSize: 2, before: page1.next });
    expect(page2.records.map((r) => r.job.jobId)).toEqual([ids[2], ids[1]]);
    const page3 = await store.list({ states: [], pageSize: 2, before: page2.next });
    expect(page3.records.map((r) => r.job.jobId)).toEqual([ids[0]]);
    expect(page3.next).toBeUndefined();
    const running = await store.list({ states: [JobState.RUNNING, JobState.FAILED], pageSize: 10 });
    expect(running.records.map((r) => r.job.jobId)).toEqual([ids[0]]);
    expect(await store.counts()).toEqual(
      new Map([
        [JobState.QUEUED, 4],
        [JobState.RUNNING, 1],
      ]),
    );
    const many = await store.getMany([ids[1]!, "job_missing", ids[3]!]);
    expect(many.map((r) => r.job.jobId).sort()).toEqual([ids[1], ids[3]].sort());
    expect(await store.getMany([])).toEqual([]);
  });

  it("never gives one job to two claimers claiming at once", async () => {
    const { store, at } = await open();
    // Two bridges on one database; SQLite has one bridge, claiming concurrently.
    const other = kind.name === "postgres" ? (await open(undefined, at)).store : store;
    const claimers = [store, other];
    await Promise.all(Array.from({ length: 60 }, (_, i) => store.insert(task(`c${i}`), "")));
    const claimed: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        for (;;) {
          const batch = await claimers[i % 2]!.claim(`bridge-${i}`, 3, minute);
          if (batch.length === 0) return;
          claimed.push(...batch.map((j) => j.job.jobId));
        }
      }),
    );
    expect(claimed).toHaveLength(60);
    expect(new Set(claimed).size).toBe(60);
  });

  it("finds the store writable with probe()", async () => {
    const { store } = await open();
    expect(store.problem).toBeUndefined();
    expect(await store.probe()).toBe(true);
  });

  describe("retention: deleting ended jobs", () => {
    /** Sets a job's times (ms since the epoch) as if it had been created, and ended, then. */
    const age = (at: string, id: string, times: { created: number; ended?: number | null }) =>
      kind.exec(at, "UPDATE jobs SET created_at = ?, updated_at = ?, ended_at = ? WHERE id = ?", [
        times.created,
        times.ended ?? times.created,
        times.ended ?? null,
        id,
      ]);
    const payloadRows = async (at: string) =>
      kind.name === "sqlite"
        ? Number((await kind.rows<{ n: number }>(at, "SELECT COUNT(*) AS n FROM job_payloads"))[0]!.n)
        : undefined;

    it("deletes jobs ended before the cutoff with their task and result, oldest first and at most `limit` a time; keeps queued and running jobs of any age and jobs ended since", async () => {
      const { store, at } = await open();
      const [running, succeeded, failed, cancelled, recent] = [
        await insert(store, "running"),
        await insert(store, "succeeded"),
        await insert(store, "failed"),
        await insert(store, "cancelled"),
        await insert(store, "recent"),
      ];
      const leases = await store.claim("bridge-a", 5, minute);
      const queued = await insert(store, "queued");
      const lease = (id: string) => leases.find((c) => c.job.jobId === id)!.lease;
      const result = (id: string) => create(ComputeResultSchema, { jobId: id, output: `out ${id}` });
      expect(await store.succeed(succeeded!, lease(succeeded!), result(succeeded!), "0xabc")).toBe(true);
      expect(await store.fail(failed!, lease(failed!), FailureReason.INTERNAL, "x")).toBe(true);
      expect(await store.cancel(cancelled!)).toBe(true);
      expect(await store.succeed(recent!, lease(recent!), result(recent!), "0xabc")).toBe(true);
      // Queued and running since the epoch: older than any cutoff, never deleted.
      await age(at, queued!, { created: 1 });
      await age(at, running!, { created: 1 });
      await age(at, succeeded!, { created: 1, ended: 1000 });
      await age(at, failed!, { created: 1, ended: 2000 });
      await age(at, cancelled!, { created: 1, ended: 3000 });
      await age(at, recent!, { created: 1, ended: 5000 });

      expect(await store.deleteEnded(5000, 2)).toBe(2);
      expect(await store.get(succeeded!)).toBeUndefined();
      expect(await store.result(succeeded!)).toBeUndefined();
      expect(await store.get(failed!)).toBeUndefined();
      expect((await store.get(cancelled!))?.job.state).toBe(JobState.CANCELLED);
      expect(await store.deleteEnded(5000, 2)).toBe(1);
      expect(await store.deleteEnded(5000, 2)).toBe(0);
      expect(await store.deleteEnded(Number.MAX_SAFE_INTEGER, 1000)).toBe(1);
      expect(await store.get(recent!)).toBeUndefined();

      const left = (await store.list({ states: [], pageSize: 10 })).records.map((r) => r.job.jobId);
      expect(left).toEqual([queued, running]);
      expect(await store.counts()).toEqual(
        new Map([
          [JobState.QUEUED, 1],
          [JobState.RUNNING, 1],
        ]),
      );
      // The tasks and results went with their jobs.
      if (kind.name === "sqlite") expect(await payloadRows(at)).toBe(2);
      // The jobs kept work as before.
      expect((await store.get(queued!))?.task.inputs?.prompt).toBe("queued");
      expect(await store.succeed(running!, lease(running!), result(running!), "0xabc")).toBe(true);
      expect((await store.result(running!))?.output).toBe(`out ${running}`);
    });

    it("makes a new job for the idempotency key of a deleted job", async () => {
      const { store } = await open();
      const first = (await store.insert(task(), "key-1")).record.job.jobId;
      const claimed = await claimOne(store);
      await store.fail(first, claimed.lease, FailureReason.INTERNAL, "x");
      expect(await store.deleteEnded(Number.MAX_SAFE_INTEGER, 10)).toBe(1);
      const again = await store.insert(task(), "key-1");
      expect(again.created).toBe(true);
      expect(again.record.job.jobId).not.toBe(first);
      expect((await store.insert(task(), "key-1")).record.job.jobId).toBe(again.record.job.jobId);
    });
  });

  describe("in-flight jobs quota", () => {
    const agentA = { keyId: "agent-a", maxInFlight: 3 };
    /** Inserts for `submitter`, each started in the next turn of the event loop (so in several batches). */
    const staggered = (store: JobStore, n: number, submitter: Submitter, prefix: string) =>
      Array.from({ length: n }, async (_, i) => {
        for (let turn = 0; turn < i % 4; turn++) await new Promise((resolve) => setImmediate(resolve));
        return store.insert(task(`${prefix}${i}`), "", submitter);
      });
    const created = (outcomes: PromiseSettledResult<{ created: boolean }>[]) =>
      outcomes.filter((o) => o.status === "fulfilled" && o.value.created).length;
    const refusals = (outcomes: PromiseSettledResult<unknown>[]) =>
      outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as ZeroGError] : []));

    it("refuses inserts over a key's maximum, also concurrent ones, and leaves other keys alone", async () => {
      const { store } = await open();
      const [a, b, unlimited] = await Promise.all([
        Promise.allSettled([
          ...Array.from({ length: 6 }, (_, i) => store.insert(task(`a${i}`), "", agentA)),
          ...staggered(store, 10, agentA, "a-late"),
        ]),
        Promise.allSettled(staggered(store, 5, { keyId: "agent-b", maxInFlight: 2 }, "b")),
        Promise.allSettled(staggered(store, 5, { keyId: "agent-c" }, "c")),
      ]);
      expect([created(a), created(b), created(unlimited)]).toEqual([3, 2, 5]);
      expect(refusals(a)).toHaveLength(13);
      for (const err of refusals(a)) {
        expect(err).toBeInstanceOf(ZeroGError);
        expect(err.code).toBe("quota_exceeded");
        expect(err.message).toMatch(/API key agent-a has 3 job\(s\) queued or running, its maximum/);
        expect(err.retryDelayMs).toBe(2000);
      }
      expect(refusals(b)).toHaveLength(3);
      expect(await store.inFlightByKey()).toEqual(
        new Map([
          ["agent-a", 3],
          ["agent-b", 2],
          ["agent-c", 5],
        ]),
      );
      expect((await store.counts()).get(JobState.QUEUED)).toBe(10);
    });

    it("gives an idempotent resubmit its job at the limit, counted once, also once the job has ended", async () => {
      const { store } = await open();
      const one = { keyId: "agent-a", maxInFlight: 2 };
      const first = await store.insert(task("first"), "key-1", one);
      const together = await Promise.all([
        store.insert(task("second"), "key-2", one),
        store.insert(task("second"), "key-2", one),
        store.insert(task("first"), "key-1", one),
      ]);
      expect(together.map((r) => r.created)).toEqual([true, false, false]);
      expect(together[2]!.record.job.jobId).toBe(first.record.job.jobId);
      await expect(store.insert(task("third"), "key-3", one)).rejects.toMatchObject({
        code: "quota_exceeded",
      });
      expect((await store.insert(task("first"), "key-1", one)).created).toBe(false);
      expect(await store.cancel(first.record.job.jobId)).toBe(true);
      expect((await store.insert(task("first"), "key-1", one)).record.job.state).toBe(JobState.CANCELLED);
      expect(await store.inFlightByKey()).toEqual(new Map([["agent-a", 1]]));
    });

    it("frees a place as soon as a job succeeds, fails or is cancelled, not when it is requeued", async () => {
      const { store } = await open();
      const one = { keyId: "agent-a", maxInFlight: 1 };
      const next = () => store.insert(task(), "", one);
      const refused = () => expect(next()).rejects.toMatchObject({ code: "quota_exceeded" });
      await next();
      await refused();
      let claimed = await claimOne(store);
      await refused();
      expect(await store.requeue(claimed.job.jobId, claimed.lease)).toBe(true);
      await refused();
      claimed = await claimOne(store);
      expect(
        await store.succeed(claimed.job.jobId, claimed.lease, create(ComputeResultSchema, {}), "0x"),
      ).toBe(true);
      await next();
      claimed = await claimOne(store);
      expect(await store.fail(claimed.job.jobId, claimed.lease, FailureReason.INTERNAL, "x")).toBe(true);
      const queued = (await next()).record.job.jobId;
      await refused();
      expect(await store.cancel(queued)).toBe(true);
      await next();
    });

    it("counts the open jobs stored before a restart, and not those stored without a key id", async () => {
      const { store, at } = await open();
      const two = { keyId: "agent-a", maxInFlight: 2 };
      await store.insert(task("a"), "", two);
      await store.insert(task("b"), "", two);
      await claimOne(store);
      await store.insert(task("no key"), "");
      await store.durable();
      await store.close();
      const { store: reopened } = await open(undefined, at);
      await expect(reopened.insert(task("c"), "", two)).rejects.toMatchObject({ code: "quota_exceeded" });
      expect(await reopened.inFlightByKey()).toEqual(
        new Map([
          ["agent-a", 2],
          ["anonymous", 1],
        ]),
      );
      // A job submitted before the key id was recorded (an older bridge) holds no place.
      await kind.exec(at, "UPDATE jobs SET key_id = NULL");
      expect((await reopened.insert(task("c"), "", two)).created).toBe(true);
      expect(await reopened.inFlightByKey()).toEqual(new Map([["agent-a", 1]]));
    });
  });

  describe("jobs of each API key", () => {
    const agentA: Submitter = { keyId: "agent-a" };
    const agentB: Submitter = { keyId: "agent-b" };
    const ids = (page: { records: { job: { jobId: string } }[] }) => page.records.map((r) => r.job.jobId);

    it("scopes idempotency keys by key id: one key's key makes another key a new job, and never its task's refusal", async () => {
      const { store } = await open();
      const together = await Promise.all([
        store.insert(task(), "k-1", agentA),
        store.insert(task("b's own"), "k-1", agentB),
        store.insert(task(), "k-1", agentA),
      ]);
      expect(together.map((r) => r.created)).toEqual([true, true, false]);
      const [a, b] = [together[0]!.record, together[1]!.record];
      expect(together[2]!.record.job.jobId).toBe(a.job.jobId);
      expect(b.job.jobId).not.toBe(a.job.jobId);
      expect([a.keyId, b.keyId]).toEqual(["agent-a", "agent-b"]);
      expect((await store.get(b.job.jobId))?.keyId).toBe("agent-b");
      // Again, in later batches: each key gets its own job back.
      expect((await store.insert(task("b's own"), "k-1", agentB)).record.job.jobId).toBe(b.job.jobId);
      expect((await store.insert(task(), "k-1", agentA)).record.job.jobId).toBe(a.job.jobId);
      // A third key with a's task: a new job, not a's.
      const c = await store.insert(task(), "k-1", { keyId: "agent-c" });
      expect(c.created).toBe(true);
      // A different task under b's key: refused naming b's job, never a's.
      const refused = (await store.insert(task("other"), "k-1", agentB).catch((e) => e)) as ZeroGError;
      expect(refused.code).toBe("invalid_argument");
      expect(JSON.stringify(refused.violations)).toContain(b.job.jobId);
      expect(`${refused.message}${JSON.stringify(refused.violations)}`).not.toContain(a.job.jobId);
      // A store without a submitter stores the job as the anonymous caller's, never without a key id.
      expect((await store.insert(task(), "k-1")).record.keyId).toBe("anonymous");
    });

    it("counts a key's quota by its own idempotency keys: another key's use of one is no resubmit", async () => {
      const { store } = await open();
      const one = (keyId: string): Submitter => ({ keyId, maxInFlight: 1 });
      const first = await store.insert(task(), "k-1", one("agent-a"));
      expect((await store.insert(task(), "k-1", one("agent-b"))).created).toBe(true);
      await expect(store.insert(task("more"), "k-2", one("agent-b"))).rejects.toMatchObject({
        code: "quota_exceeded",
      });
      expect((await store.insert(task(), "k-1", one("agent-a"))).record.job.jobId).toBe(
        first.record.job.jobId,
      );
      expect(await store.inFlightByKey()).toEqual(
        new Map([
          ["agent-a", 1],
          ["agent-b", 1],
        ]),
      );
    });

    it("lists a key's jobs and those stored before key ids, newest first, its pages never reaching another key's", async () => {
      const { store, at } = await open();
      const made: Array<{ id: string; owner: string }> = [];
      for (let i = 0; i < 9; i++) {
        const owner = ["agent-a", "agent-b", "legacy"][i % 3]!;
        const keyId = owner === "legacy" ? "agent-legacy" : owner;
        made.push({ id: (await store.insert(task(`p${i}`), "", { keyId })).record.job.jobId, owner });
      }
      await kind.exec(at, "UPDATE jobs SET key_id = NULL WHERE key_id = 'agent-legacy'");
      const newestFirst = (owners: string[]) =>
        made
          .filter((m) => owners.includes(m.owner))
          .map((m) => m.id)
          .reverse();
      const pages = async (keyId: string | undefined, pageSize: number, before?: number) => {
        const out: string[] = [];
        let next = before;
        do {
          const page = await store.list({ states: [], pageSize, before: next, keyId });
          expect(page.records.length).toBeLessThanOrEqual(pageSize);
          out.push(...ids(page));
          next = page.next;
        } while (next !== undefined);
        return out;
      };
      expect(await pages("agent-a", 2)).toEqual(newestFirst(["agent-a", "legacy"]));
      expect(await pages("agent-b", 4)).toEqual(newestFirst(["agent-b", "legacy"]));
      expect(await pages(undefined, 4)).toEqual(newestFirst(["agent-a", "agent-b", "legacy"]));
      expect(await pages("agent-c", 2)).toEqual(newestFirst(["legacy"]));
      // A position taken from another key's page only moves where b's own listing starts (positions
      // count from 1 in a new store).
      const aPage = await store.list({ states: [], pageSize: 2, keyId: "agent-a" });
      expect(aPage.next).toBeDefined();
      expect(await pages("agent-b", 10, aPage.next)).toEqual(
        newestFirst(["agent-b", "legacy"]).filter(
          (id) => made.findIndex((m) => m.id === id) + 1 < aPage.next!,
        ),
      );
      const records = (await store.list({ states: [], pageSize: 10, keyId: "agent-a" })).records;
      expect(new Set(records.map((r) => r.keyId))).toEqual(new Set(["agent-a", undefined]));
      // With a state filter.
      const claimed = await claimOne(store);
      expect(claimed.job.jobId).toBe(made[0]!.id);
      const running = (keyId: string) => store.list({ states: [JobState.RUNNING], pageSize: 10, keyId });
      expect(ids(await running("agent-b"))).toEqual([]);
      expect(ids(await running("agent-a"))).toEqual([claimed.job.jobId]);
      expect(ids(await store.list({ states: [JobState.QUEUED], pageSize: 10, keyId: "agent-a" }))).toEqual(
        newestFirst(["agent-a", "legacy"]).filter((id) => id !== claimed.job.jobId),
      );
    });

    it("gives a resubmit the job stored before key ids with its idempotency key, whichever key sends it", async () => {
      const { store, at } = await open();
      const old = await store.insert(task("before the upgrade"), "k-old", { keyId: "gone" });
      await kind.exec(at, "UPDATE jobs SET key_id = NULL");
      const { store: upgraded } = await open(undefined, at);
      expect((await upgraded.get(old.record.job.jobId))?.keyId).toBeUndefined();
      const again = await Promise.all([
        upgraded.insert(task("before the upgrade"), "k-old", { keyId: "agent-a", maxInFlight: 5 }),
        upgraded.insert(task("before the upgrade"), "k-old", agentB),
      ]);
      expect(again.map((r) => [r.created, r.record.job.jobId])).toEqual([
        [false, old.record.job.jobId],
        [false, old.record.job.jobId],
      ]);
      const alone = await upgraded.insert(task("before the upgrade"), "k-old", { keyId: "agent-c" });
      expect(alone.record.job.jobId).toBe(old.record.job.jobId);
      await expect(upgraded.insert(task("another"), "k-old", agentA)).rejects.toMatchObject({
        code: "invalid_argument",
      });
    });

    it("upgrades a store written before idempotency keys were per key, keeping every job and its position", async () => {
      const at = await kind.beforeKeyScopes([
        { id: "job_legacy", idempotencyKey: "k-1", keyId: null },
        { id: "job_of_a", idempotencyKey: "k-2", keyId: "agent-a" },
        { id: "job_plain", idempotencyKey: null, keyId: "agent-a" },
      ]);
      const { store } = await open(undefined, at);
      expect((await store.get("job_legacy"))?.keyId).toBeUndefined();
      expect((await store.get("job_of_a"))?.keyId).toBe("agent-a");
      const old = inferenceTask("old");
      expect((await store.insert(old, "k-1", agentB)).record.job.jobId).toBe("job_legacy");
      expect((await store.insert(old, "k-2", agentA)).record.job.jobId).toBe("job_of_a");
      const fresh = await store.insert(old, "k-2", agentB);
      expect(fresh.created).toBe(true);
      // After every job stored before, also the one deleted since: positions are never reused.
      expect(ids(await store.list({ states: [], pageSize: 10, keyId: "agent-a" }))).toEqual([
        "job_plain",
        "job_of_a",
        "job_legacy",
      ]);
      expect(ids(await store.list({ states: [], pageSize: 1 }))).toEqual([fresh.record.job.jobId]);
      const [row] = await kind.rows<{ seq: number }>(
        at,
        `SELECT seq FROM jobs WHERE id = '${fresh.record.job.jobId}'`,
      );
      expect(Number(row?.seq)).toBeGreaterThan(4);
    });
  });

  describe("results and their attestations", () => {
    const bytes = (result: ComputeResult | undefined) =>
      result ? Buffer.from(toBinary(ComputeResultSchema, result)) : undefined;
    /** A new job run to success with the result `make` gives for its id. */
    const succeeded = async (store: JobStore, make: (id: string) => ComputeResult) => {
      await insert(store);
      const claimed = await claimOne(store);
      const result = make(claimed.job.jobId);
      expect(await store.succeed(claimed.job.jobId, claimed.lease, result, "0xabc")).toBe(true);
      return result;
    };
    const attestationRows = (at: string) =>
      kind.rows<{ n: number }>(at, "SELECT COUNT(*) AS n FROM attestations").then((r) => Number(r[0]!.n));
    const storedSizes = async (at: string) =>
      (
        await kind.rows<{ n: number }>(
          at,
          kind.name === "sqlite"
            ? "SELECT length(result) AS n FROM job_payloads WHERE result IS NOT NULL"
            : "SELECT octet_length(result) AS n FROM jobs WHERE result IS NOT NULL",
        )
      ).map((r) => Number(r.n));
    const cacheOf = (store: JobStore) =>
      (store as unknown as { attestations: AttestationCache }).attestations;

    it("stores a provider's attestation once for all its results, and serves each byte for byte, also after a restart", async () => {
      const { store, at } = await open();
      const a = providerEvidence("provider-a");
      const results = [
        await succeeded(store, (id) => attestedResult(id, a)),
        await succeeded(store, (id) => attestedResult(id, a)),
        // The same attestation fetched again (another object, the same bytes), and another provider's.
        await succeeded(store, (id) => attestedResult(id, providerEvidence("provider-a"))),
        await succeeded(store, (id) => attestedResult(id, providerEvidence("provider-b"))),
      ];
      expect(bytes(results[0])!.length).toBeGreaterThan(30_000);
      expect(await attestationRows(at)).toBe(2);
      for (const size of await storedSizes(at)) expect(size).toBeLessThan(1000);
      for (const result of results) expect(bytes(await store.result(result.jobId))).toEqual(bytes(result));
      await store.durable();
      await store.close();
      const { store: reopened } = await open(undefined, at);
      expect(cacheOf(reopened).size).toBe(0);
      for (const result of results) expect(bytes(await reopened.result(result.jobId))).toEqual(bytes(result));
      expect(cacheOf(reopened).size).toBe(2);
    });

    it("keeps a bounded number of attestations decoded, and reads every result whichever were dropped", async () => {
      const { store, at } = await open();
      const { capacity } = cacheOf(store);
      const results: ComputeResult[] = [];
      for (let i = 0; i < capacity + 3; i++) {
        results.push(await succeeded(store, (id) => attestedResult(id, providerEvidence(`provider-${i}`))));
      }
      expect(await attestationRows(at)).toBe(capacity + 3);
      expect(cacheOf(store).size).toBe(capacity);
      await store.close();
      const { store: reopened } = await open(undefined, at);
      for (let round = 0; round < 2; round++) {
        for (const result of results)
          expect(bytes(await reopened.result(result.jobId))).toEqual(bytes(result));
      }
      expect(cacheOf(reopened).size).toBe(capacity);
    });

    it("refuses to serve a result whose stored attestation was altered or is missing", async () => {
      const { store, at } = await open();
      const result = await succeeded(store, (id) => attestedResult(id, providerEvidence("provider-a")));
      await store.close();
      const forged = attestedResult(result.jobId, providerEvidence("provider-forged")).proof!;
      const forgedBytes = Buffer.from(
        toBinary(
          ComputeProofSchema,
          create(ComputeProofSchema, { attestation: forged.attestation, tee: forged.tee, gpu: forged.gpu }),
        ),
      );
      await kind.exec(at, "UPDATE attestations SET evidence = ?", [forgedBytes]);
      const { store: altered } = await open(undefined, at);
      await expect(altered.result(result.jobId)).rejects.toThrow(
        /does not match its hash: the job store is damaged/,
      );
      await altered.close();
      if (kind.name === "postgres") {
        // A result's attestation cannot be deleted.
        await expect(kind.exec(at, "DELETE FROM attestations")).rejects.toThrow(/foreign key/);
        return;
      }
      await kind.exec(at, "DELETE FROM attestations");
      const { store: missing } = await open(undefined, at);
      await expect(missing.result(result.jobId)).rejects.toThrow(/is missing: the job store is damaged/);
    });

    it("reads byte for byte a result a bridge of the previous schema stored whole", async () => {
      const evidence = providerEvidence("provider-a");
      const old = attestedResult("job_old", evidence);
      const at = await kind.previous(old);
      const { store } = await open(undefined, at);
      expect((await store.get("job_old"))?.job.state).toBe(JobState.SUCCEEDED);
      expect(bytes(await store.result("job_old"))).toEqual(bytes(old));
      const fresh = await succeeded(store, (id) => attestedResult(id, evidence));
      expect(await attestationRows(at)).toBe(1);
      expect(bytes(await store.result(fresh.jobId))).toEqual(bytes(fresh));
      expect(bytes(await store.result("job_old"))).toEqual(bytes(old));
    });

    it("deletes an attestation once no result references it and keeps it while one does; the same attestation stored again reads back byte for byte", async () => {
      const { store, at } = await open();
      const a = providerEvidence("provider-a");
      const [a1, a2, b1] = [
        await succeeded(store, (id) => attestedResult(id, a)),
        await succeeded(store, (id) => attestedResult(id, a)),
        await succeeded(store, (id) => attestedResult(id, providerEvidence("provider-b"))),
      ];
      expect(await attestationRows(at)).toBe(2);
      // Nothing to delete while every attestation is referenced.
      expect(await store.deleteUnusedAttestations(1000)).toBe(0);
      await kind.exec(at, "UPDATE jobs SET ended_at = 1 WHERE id IN (?, ?)", [a1.jobId, b1.jobId]);
      expect(await store.deleteEnded(2, 1000)).toBe(2);
      // b's attestation is referenced no more; a's still is, by a2.
      expect(await store.deleteUnusedAttestations(1000)).toBe(1);
      expect(await attestationRows(at)).toBe(1);
      expect(bytes(await store.result(a2.jobId))).toEqual(bytes(a2));
      await kind.exec(at, "UPDATE jobs SET ended_at = 1 WHERE id = ?", [a2.jobId]);
      expect(await store.deleteEnded(2, 1000)).toBe(1);
      expect(await store.deleteUnusedAttestations(1000)).toBe(1);
      expect(await attestationRows(at)).toBe(0);
      // A result with the same attestation, stored right after the sweep: stored again, read back from
      // the database (a new store: nothing cached) and checked against its hash.
      const again = await succeeded(store, (id) => attestedResult(id, a));
      expect(await attestationRows(at)).toBe(1);
      await store.close();
      const { store: reopened } = await open(undefined, at);
      expect(bytes(await reopened.result(again.jobId))).toEqual(bytes(again));
      expect(await reopened.deleteUnusedAttestations(1000)).toBe(0);
    });

    it("keeps the attestation of every result stored while sweeps run", async () => {
      // SQLite: a result and its attestation are stored by one synchronous transaction, and a sweep's
      // deletion is one statement: they never interleave. Postgres: see the race test with two bridges.
      const { store, at } = await open();
      const evidence = providerEvidence("provider-a");
      const results: ComputeResult[] = [];
      for (let round = 0; round < 30; round++) {
        await kind.exec(at, "UPDATE jobs SET ended_at = 1");
        await store.deleteEnded(2, 1000);
        const [result] = await Promise.all([
          succeeded(store, (id) => attestedResult(id, evidence)),
          store.deleteUnusedAttestations(1000),
          store.deleteUnusedAttestations(1000),
        ]);
        results.push(result);
      }
      await store.close();
      const { store: reopened } = await open(undefined, at);
      const last = results.at(-1)!;
      expect(bytes(await reopened.result(last.jobId))).toEqual(bytes(last));
      expect(await attestationRows(at)).toBe(1);
    });

    it("deletes unused attestations at most `limit` a time", async () => {
      const { store, at } = await open();
      for (const name of ["p1", "p2", "p3"])
        await succeeded(store, (id) => attestedResult(id, providerEvidence(name)));
      await kind.exec(at, "UPDATE jobs SET ended_at = 1");
      expect(await store.deleteEnded(2, 1000)).toBe(3);
      expect(await store.deleteUnusedAttestations(2)).toBe(2);
      expect(await attestationRows(at)).toBe(1);
      expect(await store.deleteUnusedAttestations(2)).toBe(1);
      expect(await store.deleteUnusedAttestations(2)).toBe(0);
    });

    it("stores a result without attestation whole", async () => {
      const { store, at } = await open();
      const result = await succeeded(store, (id) => create(ComputeResultSchema, { jobId: id, output: "42" }));
      expect(await attestationRows(at)).toBe(0);
      expect(bytes(await store.result(result.jobId))).toEqual(bytes(result));
    });
  });
});
