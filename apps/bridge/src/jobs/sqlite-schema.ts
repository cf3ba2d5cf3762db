import type Database from "better-sqlite3";
import { type Migration, pendingMigrations } from "./migrations.js";

/** Adds the columns a table lacks (a store may have some of them already, from before `schema_version`). */
function addColumns(db: Database.Database, table: string, columns: Record<string, string>): void {
  const have = new Set((db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((c) => c.name));
  for (const [name, type] of Object.entries(columns)) {
    if (!have.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}

/** The SQLite job store's schema, version by version. Never edit a released step: add one. */
export const sqliteMigrations: readonly Migration<Database.Database>[] = [
  {
    version: 1,
    name: "jobs",
    up: (db) =>
      db.exec(`
        CREATE TABLE IF NOT EXISTS jobs (
          seq             INTEGER PRIMARY KEY AUTOINCREMENT,
          id              TEXT NOT NULL UNIQUE,
          idempotency_key TEXT UNIQUE,
          state           INTEGER NOT NULL,
          task            BLOB NOT NULL,
          task_type       INTEGER NOT NULL,
          model           TEXT NOT NULL,
          progress        REAL NOT NULL DEFAULT 0,
          provider        TEXT NOT NULL DEFAULT '',
          attempts        INTEGER NOT NULL DEFAULT 0,
          error_reason    INTEGER NOT NULL DEFAULT 0,
          error_message   TEXT NOT NULL DEFAULT '',
          result          BLOB,
          created_at      INTEGER NOT NULL,
          updated_at      INTEGER NOT NULL,
          started_at      INTEGER,
          ended_at        INTEGER
        );
        CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
        CREATE TABLE IF NOT EXISTS bridge_meta (
          key   TEXT PRIMARY KEY,
          value TEXT NOT NULL
        );`),
  },
  {
    version: 2,
    name: "stages, messages and checkpoints of long jobs",
    up: (db) =>
      addColumns(db, "jobs", {
        stage: "TEXT NOT NULL DEFAULT ''",
        message: "TEXT NOT NULL DEFAULT ''",
        checkpoint: "TEXT",
      }),
  },
  {
    version: 3,
    name: "leases and change versions",
    up: (db) => {
      addColumns(db, "jobs", {
        lease_owner: "TEXT",
        lease_expires_at: "INTEGER",
        version: "INTEGER NOT NULL DEFAULT 0",
      });
      db.exec("CREATE INDEX IF NOT EXISTS jobs_running_lease ON jobs (lease_expires_at) WHERE state = 2");
    },
  },
  {
    version: 4,
    name: "tasks and results beside their jobs",
    // SQLite rewrites every value of a row an UPDATE changes: out of the row, a large task is written once.
    up: (db) =>
      db.exec(`
        CREATE TABLE job_payloads (seq INTEGER PRIMARY KEY, task BLOB NOT NULL, result BLOB);
        INSERT INTO job_payloads (seq, task, result) SELECT seq, task, result FROM jobs;
        UPDATE jobs SET task = x'', result = NULL;`),
  },
  {
    version: 5,
    name: "attestations stored once",
    // A result's attestation (~30 kB, the same for every job of a provider) is kept once, by its
    // sha-256 (stored-results.ts); results stored before keep theirs inline and read as they are.
    up: (db) =>
      db.exec(`
        CREATE TABLE attestations (hash BLOB PRIMARY KEY, evidence BLOB NOT NULL);
        ALTER TABLE job_payloads ADD COLUMN attestation BLOB;`),
  },
  {
    version: 6,
    name: "the key id of each job, for the in-flight jobs quota",
    // The API key's id (never the key); NULL for the jobs stored before, which the quota does not count.
    // With `state` in it, SQLite counts a key's jobs from the index alone.
    up: (db) =>
      db.exec(`
        ALTER TABLE jobs ADD COLUMN key_id TEXT;
        CREATE INDEX jobs_live_by_key ON jobs (key_id, state) WHERE state IN (1, 2);`),
  },
  {
    version: 7,
    name: "job retention: ended jobs by end time, results by attestation",
    // The retention finds the jobs ended before a time, and the attestations no result references.
    up: (db) =>
      db.exec(`
        CREATE INDEX jobs_ended ON jobs (ended_at) WHERE state IN (3, 4, 5);
        CREATE INDEX job_payloads_by_attestation ON job_payloads (attestation) WHERE attestation IS NOT NULL;`),
  },
  {
    version: 8,
    name: "idempotency keys per key id, and each key's jobs listed by position",
    // The idempotency key was unique in the whole store: one key id's key gave its job to another key id.
    // It is unique per key id now. SQLite cannot drop a column's UNIQUE: the table is rebuilt without it
    // (from its own schema, so every column and index it has stays), keeping each job's position.
    // Jobs stored before key ids were (key_id NULL) keep their unique idempotency keys.
    up: (db) => {
      rebuildJobsWithout(db, /(\bidempotency_key\s+TEXT)\s+UNIQUE\b/i);
      db.exec(`
        CREATE UNIQUE INDEX jobs_by_key_idempotency ON jobs (key_id, idempotency_key);
        CREATE INDEX jobs_by_key ON jobs (key_id, seq);`);
    },
  },
];

/**
 * Rebuilds table `jobs` with its definition minus what `constraint` matches (SQLite's way to drop a
 * constraint: https://www.sqlite.org/lang_altertable.html#otheralter), keeping its rows, their `seq`,
 * the next `seq` (AUTOINCREMENT: a deleted job's position is never reused), its indexes and triggers.
 */
function rebuildJobsWithout(db: Database.Database, constraint: RegExp): void {
  const objects = db
    .prepare("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'jobs' AND sql IS NOT NULL")
    .all() as Array<{ type: string; name: string; sql: string }>;
  const table = objects.find((o) => o.type === "table")!.sql;
  const rebuilt = table.replace(constraint, "$1");
  if (rebuilt === table) throw new Error(`the jobs table has no ${constraint} to drop: ${table}`);
  const next = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'jobs'").get() as
    | { seq: number }
    | undefined;
  db.exec(`${rebuilt.replace(/^CREATE TABLE\s+("?)jobs\1/i, "CREATE TABLE jobs_rebuilt")};
    INSERT INTO jobs_rebuilt SELECT * FROM jobs;
    DROP TABLE jobs;
    ALTER TABLE jobs_rebuilt RENAME TO jobs;`);
  if (next) {
    db.prepare("DELETE FROM sqlite_sequence WHERE name = 'jobs'").run();
    db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)").run(next.seq);
  }
  for (const o of objects) if (o.type !== "table") db.exec(o.sql);
}

/**
 * Brings the store's schema to the latest version (or to `target`, for tests), in one transaction. A store from before
 * `schema_version` existed (it has a `jobs` table) counts as version 1; the steps after it only add
 * what is missing. Throws a StorageError for a store of a newer bridge.
 */
export function migrateSqlite(db: Database.Database, location: string, target = Infinity): void {
  db.transaction(() => {
    db.exec(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    );
    const recorded = db.prepare("SELECT MAX(version) AS v FROM schema_version").get() as { v: number | null };
    const hasJobs = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").get();
    const current = recorded.v ?? (hasJobs ? 1 : 0);
    const record = db.prepare("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)");
    if (recorded.v === null && hasJobs) record.run(1, "jobs (found)", Date.now());
    for (const step of pendingMigrations(sqliteMigrations, current, location)) {
      if (step.version > target) break;
      step.up(db);
      record.run(step.version, step.name, Date.now());
    }
  }).immediate();
}
