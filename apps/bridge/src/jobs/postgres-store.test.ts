import { setImmediate as nextTurn } from "node:timers/promises";
import { toBinary } from "@bufbuild/protobuf";
import { type ComputeResult, ComputeResultSchema, FailureReason, JobState } from "@chaoschain/zerog-core";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { attestedResult, inferenceTask, minute, providerEvidence, usePostgres } from "../../test/stores.js";
import { jobStatements, live } from "./job-sql.js";
import type { JobStore, JobStoreHooks, RemoteChanges } from "./job-store.js";
import { byIdempotencyKeys, PostgresJobStore } from "./postgres-store.js";
import { StorageError } from "./storage-error.js";
import { AttestationCache } from "./stored-results.js";

// What only the Postgres store does: migrations, several bridges on one database, notifications, and
// a database that goes away and comes back. What both stores do is in job-store.test.ts.

const task = inferenceTask;
const server = usePostgres();

const opened: JobStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close().catch(() => {});
});
async function open(url: string, hooks?: JobStoreHooks) {
  const store = await PostgresJobStore.open({ url, hooks, connectTimeoutMs: 2000 });
  opened.push(store);
  return store;
}
async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}
/** Resolves after `n` turns of the event loop. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}
function remoteLog() {
  const log: string[] = [];
  const listener: RemoteChanges = {
    onJob: (id, version) => log.push(`job ${id} ${version}`),
    onQueued: () => log.push("queued"),
    onGap: () => log.push("gap"),
  };
  return { log, listener };
}

describe("PostgresJobStore", () => {
  it("migrates a new database once, even when two bridges open it at the same moment", async () => {
    const url = await server().createDatabase();
    await Promise.all([open(url), open(url), open(url)]);
    expect(await query(url, "SELECT version, name FROM schema_version ORDER BY version")).toEqual([
      { version: 1, name: "jobs with leases" },
      { version: 2, name: "attestations stored once" },
      { version: 3, name: "the key id of each job, for the in-flight jobs quota" },
      { version: 4, name: "job retention: ended jobs by end time, results by attestation" },
      { version: 5, name: "idempotency keys per key id, and each key's jobs listed by position" },
    ]);
    await open(url);
    expect(await query(url, "SELECT count(*)::int AS n FROM schema_version")).toEqual([{ n: 5 }]);
    // The quota's count can read the partial index of the jobs queued or running (on a table this
    // small, only when a sequential scan is ruled out).
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query("SET enable_seqscan = off");
      const plan = await client.query<{ "QUERY PLAN": string }>(
        `EXPLAIN SELECT COUNT(*) FROM jobs WHERE key_id = ANY('{agent-a}'::text[]) AND ${live}`,
      );
      expect(plan.rows.map((r) => r["QUERY PLAN"]).join("\n")).toMatch(/jobs_live_by_key/);
      // A key's ListJobs page reads that key's jobs newest first from jobs_by_key, and those without a
      // key id from jobs_without_key (no sort of either); a Submit's idempotency key is looked up in jobs_by_key_idempotency.
      const explain = async (text: string, values: unknown[]) =>
        (await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, values)).rows
          .map((r) => r["QUERY PLAN"])
          .join("\n");
      const statements = jobStatements({ skipLocked: "", notify: "", payloads: "row", endedIndex: "" });
      for (const query of [
        { states: [], pageSize: 50, keyId: "agent-a" },
        { states: [JobState.SUCCEEDED], pageSize: 50, keyId: "agent-a", before: 1000 },
      ]) {
        const { text, values } = statements.list(query, (i) => `$${i}`);
        const plan = await explain(text, values);
        expect(plan).toMatch(
          /Index (Only )?Scan Backward using jobs_by_key on jobs.*\n\s+Index Cond: \(+key_id = /,
        );
        expect(plan).toMatch(/Index (Only )?Scan Backward using jobs_without_key on jobs/);
        expect(plan).not.toMatch(/Seq Scan/);
      }
      expect(await explain(byIdempotencyKeys("id"), [["k-1"], ["agent-a"]])).toMatch(
        /jobs_by_key_idempotency/,
      );
    } finally {
      await client.end();
    }
  });

  it("refuses a database written by a newer bridge", async () => {
    const url = await server().createDatabase();
    await open(url);
    await query(url, "INSERT INTO schema_version (version, name) VALUES (99, 'future')");
    await expect(PostgresJobStore.open({ url })).rejects.toThrow(
      /has schema version 99, newer than this bridge knows \(5\)/,
    );
  });

  it("waits for a database that is not up, then refuses naming it, without its password", async () => {
    const url = `postgres://zerog:s3cret-pw@127.0.0.1:1/jobs?password=s3cret-pw`;
    const waits: StorageError[] = [];
    const refused = await PostgresJobStore.open({
      url,
      connectTimeoutMs: 600,
      onWaiting: (p) => waits.push(p),
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StorageError);
    expect((refused as StorageError).problem).toBe("unavailable");
    expect((refused as StorageError).message).toContain("postgres://zerog@127.0.0.1:1/jobs");
    expect((refused as StorageError).message).toContain("ECONNREFUSED");
    expect(waits.length).toBeGreaterThan(0);
    for (const err of [refused as StorageError, ...waits]) {
      expect(`${err.message} ${err.path} ${String(err.cause)}`).not.toContain("s3cret-pw");
    }
  });

  it("refuses at once a database that refuses the credentials, or does not exist", async () => {
    const wrong = server()
      .url("postgres")
      .replace(/:[0-9a-f]+@/, ":not-the-password@");
    const started = Date.now();
    const refused = await PostgresJobStore.open({ url: wrong, connectTimeoutMs: 20_000 }).catch(
      (e: unknown) => e,
    );
    expect((refused as StorageError).code).toBe("28P01");
    expect((refused as StorageError).message).not.toContain("not-the-password");
    const missing = await PostgresJobStore.open({
      url: server().url("no_such_database"),
      connectTimeoutMs: 20_000,
    }).catch((e: unknown) => e);
    expect((missing as StorageError).code).toBe("3D000");
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("stores the inserts of one moment in one statement", async () => {
    const store = (await open(await server().createDatabase())) as PostgresJobStore;
    await Promise.all(Array.from({ length: 64 }, (_, i) => store.insert(task(`p${i}`), "")));
    expect(store.insertStatements).toBe(1);
    await Promise.all(Array.from({ length: 64 }, (_, i) => store.insert(task(`q${i}`), "")));
    expect(store.insertStatements).toBe(2);
  });

  it("keeps an idempotency key unique across bridges inserting it at once", async () => {
    const url = await server().createDatabase();
    const [a, b] = [await open(url), await open(url)];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).insert(task(), `shared-${i % 4}`)),
    );
    const byKey = new Map<string, Set<string>>();
    results.forEach((r, i) => {
      const ids = byKey.get(`shared-${i % 4}`) ?? new Set();
      ids.add(r.record.job.jobId);
      byKey.set(`shared-${i % 4}`, ids);
    });
    expect([...byKey.values()].map((ids) => ids.size)).toEqual([1, 1, 1, 1]);
    expect(results.filter((r) => r.created)).toHaveLength(4);
    expect(await a.counts()).toEqual(new Map([[JobState.QUEUED, 4]]));
  });

  it("makes a new job for an idempotency key whose ended job is deleted between the insert and the read of that job", async () => {
    const url = await server().createDatabase();
    const store = await open(url);
    const first = (await store.insert(task(), "vanishing")).record.job.jobId;
    await store.cancel(first);
    // The retention of another bridge, at the worst moment: right after the INSERT found the key taken.
    await query(
      url,
      `CREATE FUNCTION vanish() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         DELETE FROM jobs WHERE idempotency_key = 'vanishing' AND state = ${JobState.CANCELLED}; RETURN NULL; END $$;
       CREATE TRIGGER vanish AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION vanish();`,
    );
    const again = await store.insert(task(), "vanishing");
    expect(again.created).toBe(true);
    expect(again.record.job.jobId).not.toBe(first);
    expect((await store.insert(task(), "vanishing")).record.job.jobId).toBe(again.record.job.jobId);
  });

  it("holds a key's in-flight maximum across bridges inserting for it at once", async () => {
    const url = await server().createDatabase();
    const bridges = [await open(url), await open(url), await open(url)];
    const agentA = { keyId: "agent-a", maxInFlight: 4 };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 60 }, async (_, i) => {
        for (let turn = 0; turn < i % 3; turn++) await new Promise((resolve) => setImmediate(resolve));
        const submitter = i % 5 === 4 ? { keyId: "agent-b", maxInFlight: 100 } : agentA;
        return bridges[i % 3]!.insert(task(`p${i}`), "", submitter);
      }),
    );
    const refused = outcomes.filter((o) => o.status === "rejected");
    expect(refused).toHaveLength(44);
    for (const o of refused)
      expect((o as PromiseRejectedResult).reason).toMatchObject({ code: "quota_exceeded" });
    expect(await bridges[1]!.inFlightByKey()).toEqual(
      new Map([
        ["agent-a", 4],
        ["agent-b", 12],
      ]),
    );
    // A place freed on one bridge is taken at once on another, and only once.
    const ofA = outcomes.flatMap((o, i) => (o.status === "fulfilled" && i % 5 !== 4 ? [o.value] : []));
    expect(ofA).toHaveLength(4);
    expect(await bridges[0]!.cancel(ofA[0]!.record.job.jobId)).toBe(true);
    const again = await Promise.allSettled(bridges.map((b, i) => b.insert(task(`again ${i}`), "", agentA)));
    expect(again.filter((o) => o.status === "fulfilled")).toHaveLength(1);
  });

  it("stores an attestation once when bridges store results carrying it at the same moment", async () => {
    const url = await server().createDatabase();
    const bridges = [await open(url), await open(url), await open(url)];
    await Promise.all(Array.from({ length: 30 }, (_, i) => bridges[0]!.insert(task(`p${i}`), "")));
    const results = await Promise.all(
      bridges.flatMap((bridge, b) =>
        Array.from({ length: 4 }, async () => {
          const done = [];
          for (;;) {
            const [claimed] = await bridge.claim(`bridge-${b}`, 1, minute);
            if (!claimed) return done;
            // Each its own copy, as each bridge fetches the provider's attestation itself.
            const result = attestedResult(claimed.job.jobId, providerEvidence("provider-a"));
            expect(await bridge.succeed(claimed.job.jobId, claimed.lease, result, "0xabc")).toBe(true);
            done.push(result);
          }
        }),
      ),
    );
    expect(results.flat()).toHaveLength(30);
    expect(await query(url, "SELECT COUNT(*)::int AS n FROM attestations")).toEqual([{ n: 1 }]);
    for (const result of results.flat()) {
      const read = await bridges[2]!.result(result.jobId);
      expect(Buffer.from(toBinary(ComputeResultSchema, read!))).toEqual(
        Buffer.from(toBinary(ComputeResultSchema, result)),
      );
    }
  });

  it("never fails a result because another bridge deletes its attestation at the same moment: the deletion yields", async () => {
    const url = await server().createDatabase();
    const [runner, collector, collector2] = [await open(url), await open(url), await open(url)];
    const sql = new pg.Client({ connectionString: url });
    await sql.connect();
    const evidence = providerEvidence("provider-a");
    const bytes = (r: ComputeResult | undefined) => Buffer.from(toBinary(ComputeResultSchema, r!));
    const rounds = 200;
    const perRound = 3;
    const failedResults: unknown[] = [];
    const failedDeletions: unknown[] = [];
    const deletedPerRound: number[] = [];
    let last: ComputeResult[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        await Promise.all(
          Array.from({ length: perRound }, (_, i) => runner.insert(task(`r${round}-${i}`), "")),
        );
        const claimed = await runner.claim("bridge-a", perRound, minute);
        const results = claimed.map((c) => attestedResult(c.job.jobId, evidence));
        // The previous jobs, the attestation's only references, are deleted: the attestation is unused
        // while the runner stores results referencing it again.
        await sql.query("UPDATE jobs SET ended_at = 1 WHERE state = $1", [JobState.SUCCEEDED]);
        await collector.deleteEnded(2, 1000);
        // Every other round the runner forgets that the attestation is stored, and sends it again.
        if (round % 2)
          (runner as unknown as { attestations: AttestationCache }).attestations = new AttestationCache();
        const outcomes = await Promise.allSettled([
          ...claimed.map((c, i) => runner.succeed(c.job.jobId, c.lease, results[i]!, "0xabc")),
          // Started a few turns of the event loop apart: each ordering gets its turn.
          ...[collector, collector2].map((c, i) =>
            turns((round + i) % 4).then(() => c.deleteUnusedAttestations(1000)),
          ),
        ]);
        for (const stored of outcomes.slice(0, perRound))
          if (stored.status === "rejected" || stored.value !== true) failedResults.push(stored);
        let deleted = 0;
        for (const outcome of outcomes.slice(perRound)) {
          if (outcome.status === "rejected") failedDeletions.push(outcome.reason);
          else deleted += Number(outcome.value);
        }
        deletedPerRound.push(deleted);
        last = results;
      }
      expect(failedResults).toEqual([]);
      expect(failedDeletions).toEqual([]);
      // Each result's attestation is there (the foreign key), and the last ones read back byte for
      // byte on a bridge that never cached it.
      const { rows } = await sql.query<{ n: number }>(
        "SELECT COUNT(*)::int AS n FROM jobs WHERE attestation IS NOT NULL AND attestation NOT IN (SELECT hash FROM attestations)",
      );
      expect(rows).toEqual([{ n: 0 }]);
      const fresh = await open(url);
      for (const result of last) expect(bytes(await fresh.result(result.jobId))).toEqual(bytes(result));
      // Both orderings happened: rounds whose deletions found the attestation in use, and rounds where
      // one deleted it first.
      expect(deletedPerRound.filter((n) => n === 0).length).toBeGreaterThan(0);
      expect(deletedPerRound.filter((n) => n > 0).length).toBeGreaterThan(0);
    } finally {
      await sql.end();
    }
  });

  it("deletes each ended job once when two bridges sweep at once, without errors or waiting for each other", async () => {
    const url = await server().createDatabase();
    const [a, b] = [await open(url), await open(url)];
    await Promise.all(Array.from({ length: 300 }, (_, i) => a.insert(task(`p${i}`), "")));
    const claimed = await a.claim("bridge-a", 300, minute);
    for (const [i, c] of claimed.entries()) {
      if (i % 2) await a.cancel(c.job.jobId);
      else await a.fail(c.job.jobId, c.lease, FailureReason.INTERNAL, "x");
    }
    await a.insert(task("queued"), "");
    const sweep = async (store: JobStore) => {
      let total = 0;
      for (;;) {
        const n = await store.deleteEnded(Number.MAX_SAFE_INTEGER, 25);
        total += n;
        if (n === 0) return total;
      }
    };
    const [byA, byB] = await Promise.all([sweep(a), sweep(b)]);
    expect(byA + byB).toBe(300);
    expect(await a.counts()).toEqual(new Map([[JobState.QUEUED, 1]]));
  });

  it("yields when the foreign key refuses an attestation's deletion: nothing deleted, no error, no storage problem", async () => {
    const url = await server().createDatabase();
    const store = await open(url);
    const id = (await store.insert(task(), "")).record.job.jobId;
    const [claimed] = await store.claim("bridge-a", 1, minute);
    await store.succeed(id, claimed!.lease, attestedResult(id, providerEvidence("provider-a")), "0xabc");
    await query(url, "UPDATE jobs SET ended_at = 1");
    expect(await store.deleteEnded(2, 10)).toBe(1);
    // A reference appearing at the last moment, which the deletion's own check cannot see.
    await query(
      url,
      `CREATE FUNCTION refer() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
         INSERT INTO jobs (id, state, task, task_type, model, created_at, updated_at, attestation)
         VALUES ('job_late', ${JobState.SUCCEEDED}, '', 1, 'm', 0, 0, OLD.hash); RETURN OLD; END $$;
       CREATE TRIGGER refer BEFORE DELETE ON attestations FOR EACH ROW EXECUTE FUNCTION refer();`,
    );
    expect(await store.deleteUnusedAttestations(10)).toBe(0);
    expect(store.problem).toBeUndefined();
    expect(await query(url, "SELECT COUNT(*)::int AS n FROM attestations")).toEqual([{ n: 1 }]);
  });

  it("sends a provider's attestation with its first result only, and again once another bridge deleted it", async () => {
    const url = await server().createDatabase();
    const [runner, collector] = [(await open(url)) as PostgresJobStore, await open(url)];
    const bytes = (r: ComputeResult | undefined) => Buffer.from(toBinary(ComputeResultSchema, r!));
    const succeeded = async () => {
      const id = (await runner.insert(task(), "")).record.job.jobId;
      const [claimed] = await runner.claim("bridge-a", 1, minute);
      // Each its own copy, as when the attestation is fetched again: equal bytes, another object.
      const result = attestedResult(id, providerEvidence("provider-a"));
      expect(await runner.succeed(id, claimed!.lease, result, "0xabc")).toBe(true);
      return result;
    };
    const first = await succeeded();
    const second = await succeeded();
    expect(runner.attestationsSent).toBe(1);
    // Another bridge's retention deletes both jobs and the attestation this bridge believes stored.
    await query(url, "UPDATE jobs SET ended_at = 1");
    expect(await collector.deleteEnded(2, 1000)).toBe(2);
    expect(await collector.deleteUnusedAttestations(1000)).toBe(1);
    const third = await succeeded();
    expect(runner.attestationsSent).toBe(2);
    const fourth = await succeeded();
    expect(runner.attestationsSent).toBe(2);
    const fresh = await open(url);
    for (const result of [third, fourth])
      expect(bytes(await fresh.result(result.jobId))).toEqual(bytes(result));
    expect(await fresh.get(first.jobId)).toBeUndefined();
    expect(await fresh.get(second.jobId)).toBeUndefined();
  });

  it("tells each bridge what the others changed, not what it changed itself", async () => {
    const url = await server().createDatabase();
    const [a, b] = [await open(url), await open(url)];
    const seenByA = remoteLog();
    const seenByB = remoteLog();
    a.watchRemote!(seenByA.listener);
    b.watchRemote!(seenByB.listener);
    await vi.waitFor(() => expect(seenByA.log).toEqual(["gap"]));
    await vi.waitFor(() => expect(seenByB.log).toEqual(["gap"]));
    const id = (await a.insert(task(), "")).record.job.jobId;
    const [claimed] = await a.claim("bridge-a", 1, minute);
    await b.cancel(id);
    await vi.waitFor(() => expect(seenByB.log).toEqual(["gap", "queued", `job ${id} 1`]));
    await vi.waitFor(() => expect(seenByA.log).toEqual(["gap", `job ${id} 2`]));
    expect(claimed?.version).toBe(1);
  });

  it("survives a restart of the database: failures while it is down, then it works again, and listeners hear of the gap", async () => {
    const reports: Array<string | undefined> = [];
    const url = await server().createDatabase();
    const store = await open(url, { onStorage: (p) => reports.push(p?.problem) });
    const seen = remoteLog();
    store.watchRemote!(seen.listener);
    await vi.waitFor(() => expect(seen.log).toEqual(["gap"]));
    const id = (await store.insert(task(), "")).record.job.jobId;
    await server().stop();
    try {
      const refused = await store.insert(task(), "").catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(StorageError);
      expect((refused as StorageError).problem).toBe("unavailable");
      await expect(store.get(id)).rejects.toThrow(StorageError);
      expect(await store.probe()).toBe(false);
      expect(reports[0]).toBe("unavailable");
    } finally {
      await server().start();
    }
    await vi.waitFor(async () => expect(await store.probe()).toBe(true), { timeout: 10_000 });
    expect(store.problem).toBeUndefined();
    expect(reports.at(-1)).toBeUndefined();
    expect((await store.get(id))?.job.state).toBe(JobState.QUEUED);
    expect((await store.insert(task(), "")).created).toBe(true);
    await vi.waitFor(() => expect(seen.log).toEqual(["gap", "gap"]), { timeout: 15_000 });
  });
});
