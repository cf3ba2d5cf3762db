import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type ComputeTask, ComputeTaskSchema, TaskType } from "@chaoschain/zerog-core";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import type { JobStore, JobStoreHooks } from "../src/jobs/job-store.js";
import { PostgresJobStore } from "../src/jobs/postgres-store.js";
import { SqliteJobStore } from "../src/jobs/sqlite-store.js";
import { startPostgres, type TestPostgres } from "./postgres.js";

/** A lease that outlasts any test. */
export const minute = 60_000;

/** An inference task of the store tests. */
export function inferenceTask(prompt = "What is blockchain?"): ComputeTask {
  return create(ComputeTaskSchema, { taskType: TaskType.INFERENCE, model: "llama-3-8b", inputs: { prompt } });
}

/** A PostgreSQL server for the tests of the calling file (or describe block): started before, closed after. */
export function usePostgres(): () => TestPostgres {
  let server: TestPostgres | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error("PostgreSQL is not started yet: use it inside a test");
    return server;
  };
}

/** How a test opens a store of one kind, and reaches under it. */
export interface StoreKind {
  name: "sqlite" | "postgres";
  /** A new store with no jobs; `at` opens the same place again (a restart, or a second bridge). */
  open(hooks?: JobStoreHooks, at?: string): Promise<{ store: JobStore; at: string }>;
  /** Runs SQL on the store's database directly (`?` parameters), as another program would. */
  exec(at: string, sql: string, params?: unknown[]): Promise<void>;
}

export function sqliteKind(): StoreKind {
  return {
    name: "sqlite",
    async open(hooks, at = join(mkdtempSync(join(tmpdir(), "zerog-store-")), "jobs.db")) {
      return { store: new SqliteJobStore(at, hooks), at };
    },
    async exec(at, sql, params = []) {
      const db = new Database(at);
      try {
        db.prepare(sql).run(...params);
      } finally {
        db.close();
      }
    },
  };
}

/** Postgres stores, each in a new database of `server` (started by the test file). */
export function postgresKind(server: () => TestPostgres): StoreKind {
  return {
    name: "postgres",
    async open(hooks, at) {
      const url = at ?? (await server().createDatabase());
      return { store: await PostgresJobStore.open({ url, hooks, connectTimeoutMs: 2000 }), at: url };
    },
    async exec(at, sql, params = []) {
      const client = new pg.Client({ connectionString: at });
      await client.connect();
      try {
        let i = 0;
        await client.query(
          sql.replace(/\?/g, () => `$${++i}`),
          params,
        );
      } finally {
        await client.end();
      }
    },
  };
}
