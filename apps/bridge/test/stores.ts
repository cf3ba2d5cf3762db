import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  type ComputeResult,
  ComputeResultSchema,
  type ComputeTask,
  ComputeTaskSchema,
  type GpuEvidence,
  GpuEvidenceSchema,
  JobState,
  TaskType,
  type TeeEvidence,
  TeeEvidenceSchema,
} from "@chaoschain/zerog-core";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import type { JobStore, JobStoreHooks } from "../src/jobs/job-store.js";
import { migratePostgres } from "../src/jobs/postgres-schema.js";
import { PostgresJobStore } from "../src/jobs/postgres-store.js";
import { migrateSqlite } from "../src/jobs/sqlite-schema.js";
import { SqliteJobStore } from "../src/jobs/sqlite-store.js";
import { startPostgres, type TestPostgres } from "./postgres.js";

/** A lease that outlasts any test. */
export const minute = 60_000;

/** An inference task of the store tests. */
export function inferenceTask(prompt = "What is blockchain?"): ComputeTask {
  return create(ComputeTaskSchema, { taskType: TaskType.INFERENCE, model: "llama-3-8b", inputs: { prompt } });
}

/** A provider's attestation as the backend shares it among that provider's proofs (about 30 kB). */
export interface ProviderEvidence {
  quote: Uint8Array;
  tee: TeeEvidence;
  gpu: GpuEvidence;
}

/** Evidence of provider `name`: the same content for the same name, as a new object each call. */
export function providerEvidence(name: string): ProviderEvidence {
  const text = (what: string, length: number) =>
    `${name} ${what} `.repeat(length / (name.length + 2)).slice(0, length);
  const bytes = (what: string, length: number) => Buffer.from(text(what, length));
  return {
    quote: bytes("quote", 5000),
    tee: create(TeeEvidenceSchema, {
      teeType: "tdx",
      reportData: bytes("report data", 64),
      eventLog: text("event log", 9000),
      appCompose: text("app compose", 1500),
      teeVerifier: "dstack",
      rawReport: bytes("raw report", 2000),
      collateral: {
        pckCrlIssuerChain: text("pck crl chain", 2000),
        rootCaCrl: bytes("root ca crl", 500),
        pckCrl: bytes("pck crl", 500),
        tcbInfoIssuerChain: text("tcb chain", 2000),
        tcbInfo: text("tcb info", 4000),
        qeIdentity: text("qe identity", 1000),
        fmspc: "90c06f000000",
        sourceUrl: "http://127.0.0.1:1/sgx/certification/v4",
        fetchTime: { seconds: 1_700_000_000n },
      },
    }),
    gpu: create(GpuEvidenceSchema, {
      nonce: text("nonce", 64),
      arch: "HOPPER",
      evidenceList: [
        { certificate: text("gpu certificate", 2000), evidence: text("gpu evidence", 1500), arch: "HOPPER" },
      ],
      nrasToken: text("nras token", 1000),
    }),
  };
}

/** The result of an inference job on a provider with `evidence`, its proof carrying the evidence. */
export function attestedResult(
  jobId: string,
  evidence: ProviderEvidence,
  output = `answer of ${jobId}`,
): ComputeResult {
  const request = Buffer.from(`{"model":"llama-3-8b","messages":[{"role":"user","content":"${jobId}"}]}`);
  return create(ComputeResultSchema, {
    jobId,
    output,
    proof: {
      method: "tee-ml",
      dockerDigest: "sha256:0123",
      enclavePubkey: `0x04${"ab".repeat(64)}`,
      attestation: evidence.quote,
      executionHash: "cd".repeat(32),
      signature: `0x${"ef".repeat(65)}`,
      timestamp: 1_700_000_000n,
      signedText: "aa:bb",
      requestBody: request,
      responseBody: Buffer.from(`{"choices":[{"message":{"content":"${output}"}}]}`),
      providerAddress: "0x0000000000000000000000000000000000000001",
      chainId: 16_602n,
      tee: evidence.tee,
      gpu: evidence.gpu,
    },
    usage: { promptTokens: 10n, completionTokens: 20n, totalTokens: 30n },
    bridgeChecks: { signatureVerified: true, quoteVerified: true },
  });
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
  /** Reads rows from the store's database directly. */
  rows<R>(at: string, sql: string): Promise<R[]>;
  /**
   * A new store as the bridge before attestations were stored apart wrote it (SQLite schema 4, Postgres
   * 1), holding job `job_old` succeeded with `result` stored whole. Returns where it is.
   */
  previous(result: ComputeResult): Promise<string>;
  /**
   * A new store as the bridge before idempotency keys were per key wrote it (SQLite schema 6, Postgres
   * 3), holding `jobs` queued (each with the task `inferenceTask("old")`), then a fourth job deleted
   * since. Returns where it is.
   */
  beforeKeyScopes(jobs: readonly OldKeyedJob[]): Promise<string>;
}

/** A job as a bridge stored it before idempotency keys were per key. */
export interface OldKeyedJob {
  id: string;
  idempotencyKey: string | null;
  keyId: string | null;
}

/** The columns of a queued job of schema SQLite 6 / Postgres 3 (the task in the row for both). */
const keyedJobColumns = "id, idempotency_key, key_id, state, task, task_type, model, created_at, updated_at";
const keyedJob = (job: OldKeyedJob, task: Buffer) => [
  job.id,
  job.idempotencyKey,
  job.keyId,
  JobState.QUEUED,
  task,
  TaskType.INFERENCE,
  "llama-3-8b",
  1,
  1,
];
const withGone = (jobs: readonly OldKeyedJob[]) => [
  ...jobs,
  { id: "job_gone", idempotencyKey: "k-gone", keyId: null },
];

/** The columns of job `job_old` succeeded, written by a bridge of the previous schema. */
const oldJob = (taskBytes: Buffer) => [
  "job_old",
  JobState.SUCCEEDED,
  taskBytes,
  TaskType.INFERENCE,
  "llama-3-8b",
  1,
  1,
  2,
  2,
];
const oldJobColumns = "id, state, task, task_type, model, progress, created_at, updated_at, ended_at";
const taskBytes = () => Buffer.from(toBinary(ComputeTaskSchema, inferenceTask("old")));
const resultBytes = (result: ComputeResult) => Buffer.from(toBinary(ComputeResultSchema, result));

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
    async rows<R>(at: string, sql: string) {
      const db = new Database(at, { readonly: true });
      try {
        return db.prepare(sql).all() as R[];
      } finally {
        db.close();
      }
    },
    async previous(result) {
      const at = join(mkdtempSync(join(tmpdir(), "zerog-store-")), "jobs.db");
      const db = new Database(at);
      try {
        migrateSqlite(db, at, 4);
        const { seq } = db
          .prepare(`INSERT INTO jobs (${oldJobColumns}) VALUES (?, ?, x'', ?, ?, ?, ?, ?, ?) RETURNING seq`)
          .get(...oldJob(taskBytes()).filter((_, i) => i !== 2)) as { seq: number };
        db.prepare("INSERT INTO job_payloads (seq, task, result) VALUES (?, ?, ?)").run(
          seq,
          taskBytes(),
          resultBytes(result),
        );
      } finally {
        db.close();
      }
      return at;
    },
    async beforeKeyScopes(jobs) {
      const at = join(mkdtempSync(join(tmpdir(), "zerog-store-")), "jobs.db");
      const db = new Database(at);
      try {
        migrateSqlite(db, at, 6);
        const insert = db.prepare(
          `INSERT INTO jobs (${keyedJobColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
        );
        const payload = db.prepare("INSERT INTO job_payloads (seq, task) VALUES (?, ?)");
        for (const job of withGone(jobs)) {
          const { seq } = insert.get(...keyedJob(job, Buffer.alloc(0))) as { seq: number };
          payload.run(seq, taskBytes());
        }
        db.prepare("DELETE FROM jobs WHERE id = 'job_gone'").run();
      } finally {
        db.close();
      }
      return at;
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
    async rows<R>(at: string, sql: string) {
      const client = new pg.Client({ connectionString: at });
      await client.connect();
      try {
        return (await client.query(sql)).rows as R[];
      } finally {
        await client.end();
      }
    },
    async previous(result) {
      const at = await server().createDatabase();
      const client = new pg.Client({ connectionString: at });
      await client.connect();
      try {
        await migratePostgres(client, at, 1);
        await client.query(
          `INSERT INTO jobs (${oldJobColumns}, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [...oldJob(taskBytes()), resultBytes(result)],
        );
      } finally {
        await client.end();
      }
      return at;
    },
    async beforeKeyScopes(jobs) {
      const at = await server().createDatabase();
      const client = new pg.Client({ connectionString: at });
      await client.connect();
      try {
        await migratePostgres(client, at, 3);
        for (const job of withGone(jobs))
          await client.query(
            `INSERT INTO jobs (${keyedJobColumns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
            keyedJob(job, taskBytes()),
          );
        await client.query("DELETE FROM jobs WHERE id = 'job_gone'");
      } finally {
        await client.end();
      }
      return at;
    },
  };
}
