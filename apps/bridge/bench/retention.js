// The job retention's cost, by batch size: how long one statement deleting ended jobs (with their task
// and result) takes on each store, with many ended jobs stored. On SQLite it runs on the event loop, so
// this is how long the bridge stops answering while a sweep deletes one batch.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { PostgresJobStore } from "../dist/jobs/postgres-store.js";
import { SqliteJobStore } from "../dist/jobs/sqlite-store.js";
import { startPostgres } from "../test/postgres.js";

const taskBytes = 300;
const resultBytes = 2500;
const attestations = 10;

/** Median and largest of `samples` deletions of `batch` jobs each. */
async function time(store, batch, samples) {
  const ms = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    const deleted = await store.deleteEnded(Number.MAX_SAFE_INTEGER, batch);
    ms.push(performance.now() - started);
    if (deleted !== batch) throw new Error(`deleted ${deleted} jobs, not ${batch}: store more jobs`);
  }
  ms.sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)], max: ms.at(-1) };
}

async function sqliteStore(jobs) {
  const dir = mkdtempSync(join(tmpdir(), "zerog-retention-"));
  const at = join(dir, "jobs.db");
  await new SqliteJobStore(at).close();
  const db = new Database(at);
  db.transaction(() => {
    const attestation = db.prepare("INSERT INTO attestations (hash, evidence) VALUES (?, ?)");
    for (let a = 0; a < attestations; a++) attestation.run(Buffer.alloc(32, a), Buffer.alloc(30_000, a));
    const job = db.prepare(
      "INSERT INTO jobs (id, state, task, task_type, model, created_at, updated_at, ended_at) VALUES (?, 3, x'', 1, 'llama-3-8b', ?, ?, ?) RETURNING seq",
    );
    const payload = db.prepare(
      "INSERT INTO job_payloads (seq, task, result, attestation) VALUES (?, ?, ?, ?)",
    );
    for (let i = 0; i < jobs; i++) {
      const { seq } = job.get(`job_${i}`, i, i, i);
      payload.run(
        seq,
        Buffer.alloc(taskBytes, 1),
        Buffer.alloc(resultBytes, 2),
        Buffer.alloc(32, i % attestations),
      );
    }
  })();
  db.close();
  const store = new SqliteJobStore(at);
  const close = async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { store, close };
}

async function postgresStore(jobs) {
  const server = await startPostgres();
  const url = await server.createDatabase();
  const store = await PostgresJobStore.open({ url });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const hash = (expr) => `decode(lpad(to_hex(${expr}), 64, '0'), 'hex')`;
  await client.query(
    `INSERT INTO attestations SELECT ${hash("a")}, repeat('x', 30000)::bytea FROM generate_series(0, ${attestations - 1}) a`,
  );
  await client.query(
    `INSERT INTO jobs (id, state, task, task_type, model, created_at, updated_at, ended_at, result, attestation)
     SELECT 'job_' || i, 3, repeat('t', ${taskBytes})::bytea, 1, 'llama-3-8b', i, i, i, repeat('r', ${resultBytes})::bytea,
       ${hash(`i % ${attestations}`)} FROM generate_series(1, ${jobs}) i`,
  );
  await client.query("VACUUM ANALYZE");
  await client.end();
  const close = async () => {
    await store.close();
    await server.close();
  };
  return { store, close };
}

/**
 * Deletes `samples` batches of each size from a store holding `jobs` ended jobs, on SQLite and on
 * Postgres; returns the median and largest time per batch, ms.
 */
export async function measureRetention({ jobs = 40_000, batches = [100, 500, 1000], samples = 7 } = {}) {
  const rows = [];
  for (const [name, open] of [
    ["SQLite (on the event loop)", sqliteStore],
    ["Postgres", postgresStore],
  ]) {
    const { store, close } = await open(jobs);
    try {
      for (const batch of batches) rows.push({ store: name, batch, ...(await time(store, batch, samples)) });
    } finally {
      await close();
    }
  }
  return rows;
}
