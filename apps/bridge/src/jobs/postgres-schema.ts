import type pg from "pg";
import { type Migration, pendingMigrations } from "./migrations.js";

/** The Postgres job store's schema, version by version. Never edit a released step: add one. */
export const postgresMigrations: readonly Migration<pg.ClientBase>[] = [
  {
    version: 1,
    name: "jobs with leases",
    up: async (db) => {
      await db.query(`
        CREATE TABLE jobs (
          seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          id               TEXT NOT NULL UNIQUE,
          idempotency_key  TEXT UNIQUE,
          state            SMALLINT NOT NULL,
          task             BYTEA NOT NULL,
          task_type        SMALLINT NOT NULL,
          model            TEXT NOT NULL,
          progress         DOUBLE PRECISION NOT NULL DEFAULT 0,
          provider         TEXT NOT NULL DEFAULT '',
          attempts         INTEGER NOT NULL DEFAULT 0,
          error_reason     SMALLINT NOT NULL DEFAULT 0,
          error_message    TEXT NOT NULL DEFAULT '',
          result           BYTEA,
          created_at       BIGINT NOT NULL,
          updated_at       BIGINT NOT NULL,
          started_at       BIGINT,
          ended_at         BIGINT,
          stage            TEXT NOT NULL DEFAULT '',
          message          TEXT NOT NULL DEFAULT '',
          checkpoint       TEXT,
          lease_owner      TEXT,
          lease_expires_at BIGINT,
          version          INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX jobs_by_state ON jobs (state, seq);
        CREATE INDEX jobs_queued ON jobs (seq) WHERE state = 1;
        CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 2;
        CREATE INDEX jobs_running_owner ON jobs (lease_owner) WHERE state = 2;
        CREATE TABLE bridge_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        -- Times are ms since the epoch, by the database's clock: one clock for every bridge's leases.
        CREATE FUNCTION zerog_now_ms() RETURNS BIGINT LANGUAGE SQL STABLE
          AS $$ SELECT (extract(epoch FROM now()) * 1000)::BIGINT $$;`);
    },
  },
  {
    version: 2,
    name: "attestations stored once",
    // A result's attestation (~30 kB, the same for every job of a provider) is kept once, by its
    // sha-256 (stored-results.ts); results stored before keep theirs inline and read as they are. The
    // reference keeps an attestation a result needs from being deleted.
    up: async (db) => {
      await db.query(`
        CREATE TABLE attestations (hash BYTEA PRIMARY KEY, evidence BYTEA NOT NULL);
        ALTER TABLE jobs ADD COLUMN attestation BYTEA REFERENCES attestations (hash);`);
    },
  },
  {
    version: 3,
    name: "the key id of each job, for the in-flight jobs quota",
    // The API key's id (never the key); NULL for the jobs stored before, which the quota does not count.
    up: async (db) => {
      await db.query(`
        ALTER TABLE jobs ADD COLUMN key_id TEXT;
        CREATE INDEX jobs_live_by_key ON jobs (key_id) WHERE state IN (1, 2);`);
    },
  },
  {
    version: 4,
    name: "job retention: ended jobs by end time, results by attestation",
    // The retention finds the jobs ended before a time, and the attestations no result references
    // (which deleting an attestation checks too, for the foreign key).
    up: async (db) => {
      await db.query(`
        CREATE INDEX jobs_ended ON jobs (ended_at) WHERE state IN (3, 4, 5);
        CREATE INDEX jobs_by_attestation ON jobs (attestation) WHERE attestation IS NOT NULL;`);
    },
  },
  {
    version: 5,
    name: "idempotency keys per key id, and each key's jobs listed by position",
    // The idempotency key was unique in the whole store: one key id's key gave its job to another key id.
    // It is unique per key id now; jobs stored before key ids were (key_id NULL) keep theirs unique.
    // A key's ListJobs reads its jobs newest first from jobs_by_key, and those without a key id from
    // jobs_without_key (Postgres orders `key_id IS NULL` rows by seq only from an index of their own).
    up: async (db) => {
      await db.query(`
        ALTER TABLE jobs DROP CONSTRAINT jobs_idempotency_key_key;
        CREATE UNIQUE INDEX jobs_by_key_idempotency ON jobs (key_id, idempotency_key);
        CREATE INDEX jobs_by_key ON jobs (key_id, seq);
        CREATE INDEX jobs_without_key ON jobs (seq) WHERE key_id IS NULL;`);
    },
  },
];

/** Serializes migrations of bridges starting at once (any constant; "zerog" in ASCII). */
const migrationLock = 0x7a65726f67;

/**
 * Brings the schema to the latest version (or to `target`, for tests) in one transaction, holding an advisory lock so that bridges
 * starting together migrate one after the other. Throws a StorageError for a database of a newer bridge.
 */
export async function migratePostgres(
  client: pg.ClientBase,
  location: string,
  target = Infinity,
): Promise<void> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [migrationLock]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    );
    const { rows } = await client.query<{ v: number | null }>("SELECT MAX(version) AS v FROM schema_version");
    for (const step of pendingMigrations(postgresMigrations, rows[0]?.v ?? 0, location)) {
      if (step.version > target) break;
      await step.up(client);
      await client.query("INSERT INTO schema_version (version, name) VALUES ($1, $2)", [
        step.version,
        step.name,
      ]);
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  }
}
