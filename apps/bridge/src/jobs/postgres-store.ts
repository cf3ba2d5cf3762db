import { randomBytes } from "node:crypto";
import {
  type ComputeResult,
  type ComputeTask,
  ComputeTaskSchema,
  type FailureReason,
  type Job,
  JobState,
  ZeroGError,
} from "@chaoschain/zerog-core";
import pg from "pg";
import type { JobCheckpoint } from "../backend.js";
import {
  encoded,
  type JobRow,
  jobColumns,
  jobStatements,
  live,
  newJobId,
  quotaExceeded,
  sameTask,
  storablePatch,
  storableText,
  toRecord,
} from "./job-sql.js";
import {
  anonymousSubmitter,
  type ClaimedJob,
  type JobPatch,
  type JobRecord,
  type JobStore,
  type JobStoreHooks,
  type Lease,
  type ListJobsQuery,
  type ReleasedJobs,
  type RemoteChanges,
  type Submitter,
} from "./job-store.js";
import { isTransient, redactDatabaseUrl, toPostgresStorageError } from "./postgres-errors.js";
import { migratePostgres } from "./postgres-schema.js";
import { StorageError } from "./storage-error.js";
import { type PendingInsert, StoreBase } from "./store-base.js";
import { storedResult } from "./stored-results.js";

export interface PostgresJobStoreOptions {
  /** `postgres://user:password@host:port/database` (node-postgres connection string). */
  url: string;
  hooks?: JobStoreHooks | undefined;
  /** Connections in the pool. Default 10. */
  poolSize?: number | undefined;
  /** How long opening keeps retrying while the database cannot be reached, ms. Default 30 000. */
  connectTimeoutMs?: number | undefined;
  /** A statement taking longer than this fails (the database is treated as unavailable), ms. Default 30 000. */
  queryTimeoutMs?: number | undefined;
  /** Told each time opening waits for the database. */
  onWaiting?: ((problem: StorageError) => void) | undefined;
}

/** Channel of job changes: payload `<job id> <version> <origin>`. */
const jobChannel = "zerog_job";
/** Channel of new queued jobs: payload `<origin>`. */
const queuedChannel = "zerog_queued";

/** Whether `err` is the foreign key from a job's result to its attestation refusing a write. */
const refusedByAttestationReference = (err: unknown) =>
  (err as { constraint?: unknown }).constraint === "jobs_attestation_fkey";

/** The advisory locks of the in-flight jobs quota: (this, hashtext(key id)); "zg" in ASCII. */
const quotaLockSpace = 0x7a67;

/** Runs one statement: on the pool, or on the connection of a transaction. */
type Query = <R extends pg.QueryResultRow>(
  doing: "read" | "write",
  text: string,
  values: unknown[],
) => Promise<R[]>;

/** The rows one INSERT stored for a batch: the new job id of each entry given one, and the keys used. */
interface InsertedRows {
  fresh: Map<PendingInsert, string>;
  /** The idempotency keys of the batch, each with its key id ({@link scopedKey}). */
  keys: Set<string>;
  rows: JobRow[];
}

/**
 * The jobs of idempotency keys `$1` of key ids `$2` or of none (a superset of those a batch needs: its
 * entries pick theirs with {@link idempotencyIndex}).
 */
export const byIdempotencyKeys = (columns: string) =>
  `SELECT ${columns} FROM jobs WHERE idempotency_key = ANY($1::text[]) AND (key_id = ANY($2::text[]) OR key_id IS NULL)`;

/** An idempotency key as it is unique: with the key id that used it. */
const scopedKey = (keyId: string, idempotencyKey: string) => JSON.stringify([keyId, idempotencyKey]);
const scopedKeyOf = (entry: PendingInsert) => scopedKey(entry.submitter.keyId, entry.key);

/**
 * Finds the stored job of an entry's idempotency key among `rows`: the one of its key id, else one
 * stored before key ids were (key_id NULL), which every key id's resubmit gets.
 */
type IdempotencyRow = Pick<JobRow, "key_id" | "idempotency_key">;
function idempotencyIndex<R extends IdempotencyRow>(rows: R[]): (entry: PendingInsert) => R | undefined {
  const own = new Map<string, R>();
  const unowned = new Map<string, R>();
  for (const row of rows) {
    if (row.key_id === null) unowned.set(row.idempotency_key!, row);
    else own.set(scopedKey(row.key_id, row.idempotency_key!), row);
  }
  return (entry) => own.get(scopedKeyOf(entry)) ?? unowned.get(entry.key);
}

/** int8 (COUNT, BIGINT columns) as numbers: every value here is far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** Turns `@name` parameters into `$n` (and `@now` into the database's clock); returns the names in order. */
function compile(sql: string): { text: string; names: string[] } {
  const names: string[] = [];
  const text = sql.replace(/@(\w+)/g, (_, name: string) => {
    if (name === "now") return "zerog_now_ms()";
    if (!names.includes(name)) names.push(name);
    return `$${names.indexOf(name) + 1}`;
  });
  return { text, names };
}

type Statements = ReturnType<typeof jobStatements>;
type StatementName = Exclude<keyof Statements, "list" | "storeResult" | "storeAttestation"> | "deleteEnded";
type Compiled = Record<StatementName, { text: string; names: string[] }>;

/**
 * Jobs in Postgres, shared by any number of bridges. Claims take the oldest queued jobs with `FOR UPDATE
 * SKIP LOCKED` and lease them to the claiming bridge; every change notifies the others (LISTEN/NOTIFY on
 * `zerog_job` and `zerog_queued`). Inserts arriving together go in one statement (group commit); a write
 * has committed, durably, when its promise resolves, so `durable()` has nothing left to wait for.
 *
 * Open it with {@link PostgresJobStore.open}: it connects (retrying while the database is down, for
 * `connectTimeoutMs`) and migrates the schema (`postgres-schema.ts`).
 */
export class PostgresJobStore extends StoreBase implements JobStore {
  readonly kind = "postgres";
  readonly shared = true;
  readonly location: string;
  readonly #url: string;
  readonly #pool: pg.Pool;
  readonly #origin = randomBytes(6).toString("hex");
  readonly #sql: Compiled;
  readonly #list: Statements["list"];
  #pendingInserts: PendingInsert[] = [];
  #inserting = false;
  #insertStatements = 0;
  #attestationsSent = 0;
  readonly #remote = new Set<RemoteChanges>();
  #listener: pg.Client | undefined;
  #listenTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(options: PostgresJobStoreOptions, pool: pg.Pool) {
    super(options.hooks ?? {}, undefined);
    this.#url = options.url;
    this.location = redactDatabaseUrl(options.url);
    this.#pool = pool;
    const notify = `, pg_notify('${jobChannel}', id || ' ' || version || ' ' || '${this.#origin}') AS notified`;
    const {
      list,
      storeResult: _,
      storeAttestation: __,
      ...statements
    } = jobStatements({
      skipLocked: " FOR UPDATE SKIP LOCKED",
      notify,
      payloads: "row",
      endedIndex: "",
    });
    this.#list = list;
    this.#sql = Object.fromEntries(
      Object.entries({
        ...statements,
        deleteEnded: `WITH picked AS MATERIALIZED (${statements.endedBefore})
          DELETE FROM jobs WHERE seq IN (SELECT seq FROM picked) RETURNING seq`,
      }).map(([name, sql]) => [name, compile(sql)]),
    ) as Compiled;
  }

  /** Connects to the database at `options.url`, migrating its schema. */
  static async open(options: PostgresJobStoreOptions): Promise<PostgresJobStore> {
    const location = redactDatabaseUrl(options.url);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: 5000,
      query_timeout: options.queryTimeoutMs ?? 30_000,
      keepAlive: true,
      application_name: "zerog-bridge",
      types,
    });
    // An idle connection's error (the server restarted): the pool drops the connection; queries report it.
    pool.on("error", () => {});
    const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000);
    for (let wait = 250; ; wait = Math.min(wait * 2, 2000)) {
      try {
        const client = await pool.connect();
        try {
          await migratePostgres(client, location);
        } finally {
          client.release();
        }
        return new PostgresJobStore(options, pool);
      } catch (err) {
        const storage = toPostgresStorageError(err, location, "open");
        // Waited for: a server not up yet. Refused at once: wrong credentials, no such database.
        if (!storage || !isTransient(storage) || Date.now() + wait > deadline) {
          await pool.end().catch(() => {});
          throw storage ?? err;
        }
        options.onWaiting?.(storage);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  async probe(): Promise<boolean> {
    try {
      await this.#run("write", "probe", { value: new Date().toISOString() });
    } catch (err) {
      if (err instanceof StorageError) return false;
      throw err;
    }
    this.recovered();
    return true;
  }

  /** One statement on the pool; a storage failure becomes a {@link StorageError} and the store's problem. */
  readonly #query: Query = async <R extends pg.QueryResultRow>(
    doing: "read" | "write",
    text: string,
    values: unknown[],
  ) => {
    try {
      return (await this.#pool.query<R>(text, values)).rows;
    } catch (err) {
      throw this.#failure(err, doing);
    }
  };

  /** `err`, made the store's problem when it is a storage failure. */
  #failure(err: unknown, doing: "read" | "write" | "open"): unknown {
    const storage = toPostgresStorageError(err, this.location, doing);
    return storage ? this.failed(storage) : err;
  }

  /** Runs `work` in one transaction, on one connection of the pool. */
  async #transaction<T>(work: (query: Query) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect().catch((err: unknown) => {
      throw this.#failure(err, "write");
    });
    let broken: Error | undefined;
    const query: Query = async <R extends pg.QueryResultRow>(
      doing: "read" | "write",
      text: string,
      values: unknown[],
    ) => {
      try {
        return (await client.query<R>(text, values)).rows;
      } catch (err) {
        broken = err as Error;
        throw this.#failure(err, doing);
      }
    };
    try {
      await query("write", "BEGIN", []);
      const out = await work(query);
      await query("write", "COMMIT", []);
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      // A connection that failed a statement is closed rather than reused.
      client.release(broken);
    }
  }

  #run<R extends pg.QueryResultRow>(
    doing: "read" | "write",
    name: StatementName,
    params: Record<string, unknown>,
  ): Promise<R[]> {
    const { text, names } = this.#sql[name];
    return this.#query<R>(
      doing,
      text,
      names.map((n) => params[n]),
    );
  }

  insert(
    task: ComputeTask,
    idempotencyKey: string,
    submitter: Submitter = anonymousSubmitter,
  ): Promise<{ record: JobRecord; created: boolean }> {
    return new Promise((resolve, reject) => {
      this.#pendingInserts.push({ task, key: idempotencyKey, submitter, resolve, reject });
      // The inserts of this turn of the event loop go together; while a statement runs, the next wait.
      if (this.#pendingInserts.length === 1 && !this.#inserting)
        setImmediate(() => void this.#insertPending());
    });
  }

  /** INSERT statements run so far (each stores every job waiting for it). */
  get insertStatements(): number {
    return this.#insertStatements;
  }

  /**
   * Inserts every waiting job in one statement, then those that arrived meanwhile, and so on: one
   * statement at a time keeps the jobs in the order they were submitted.
   */
  async #insertPending(): Promise<void> {
    if (this.#inserting) return;
    this.#inserting = true;
    try {
      while (this.#pendingInserts.length) {
        const batch = this.#pendingInserts;
        this.#pendingInserts = [];
        this.#insertStatements++;
        await this.#insertBatch(batch).catch((err: unknown) => {
          for (const entry of batch) entry.reject(err);
        });
      }
    } finally {
      this.#inserting = false;
    }
  }

  /**
   * Inserts a batch in one statement. When some of its submitters have a quota, in a transaction that
   * first locks their keys and counts their jobs in flight (`#overQuota`), so that no bridge inserts
   * for those keys until it commits; without a quota, no lock and no count. `retries`: how often keys
   * whose job vanished between the insert and the read are inserted again.
   */
  async #insertBatch(batch: PendingInsert[], retries = 2): Promise<void> {
    const limited = batch.filter((e) => e.submitter.maxInFlight !== undefined);
    let vanished: PendingInsert[];
    if (limited.length === 0) {
      const inserted = await this.#insertRows(batch, this.#query);
      vanished = await this.#answer(batch, inserted, retries > 0);
    } else {
      const { refused, admitted, inserted } = await this.#transaction(async (query) => {
        const refused = await this.#overQuota(limited, query);
        const admitted = batch.filter((e) => !refused.has(e));
        return { refused, admitted, inserted: await this.#insertRows(admitted, query) };
      });
      for (const [entry, err] of refused) entry.reject(err);
      vanished = await this.#answer(admitted, inserted, retries > 0);
    }
    // Their key's job ended long ago and the retention deleted it meanwhile: the key is free again (and
    // the quota is counted again).
    if (vanished.length) await this.#insertBatch(vanished, retries - 1);
  }

  /**
   * The entries of `limited` over their key's maximum, each with its refusal. Takes the advisory lock of
   * each key (in one order, so bridges locking several keys cannot deadlock; held until the commit),
   * then counts the keys' jobs in flight as committed by then. A resubmit of a stored job is not counted.
   */
  async #overQuota(limited: PendingInsert[], query: Query): Promise<Map<PendingInsert, ZeroGError>> {
    const keyIds = [...new Set(limited.map((e) => e.submitter.keyId))];
    // Postgres evaluates a volatile function of the select list after the ORDER BY.
    await query(
      "write",
      `SELECT pg_advisory_xact_lock(${quotaLockSpace}, h)
       FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k) AS locks ORDER BY h`,
      [keyIds],
    );
    const counts = await query<{ key_id: string; n: number }>(
      "read",
      `SELECT key_id, COUNT(*) AS n FROM jobs WHERE key_id = ANY($1::text[]) AND ${live} GROUP BY key_id`,
      [keyIds],
    );
    const stored = idempotencyIndex(
      await this.#byIdempotencyKey<IdempotencyRow>(limited, "key_id, idempotency_key", query),
    );
    const inFlight = new Map(counts.map((r) => [r.key_id, r.n]));
    const resubmits = new Set<string>();
    const refused = new Map<PendingInsert, ZeroGError>();
    for (const entry of limited) {
      if (entry.key !== "" && (stored(entry) || resubmits.has(scopedKeyOf(entry)))) continue;
      const { keyId } = entry.submitter;
      const max = entry.submitter.maxInFlight!;
      const n = inFlight.get(keyId) ?? 0;
      if (n >= max) {
        refused.set(entry, quotaExceeded(keyId, max));
        continue;
      }
      inFlight.set(keyId, n + 1);
      // The repeats of its idempotency key (and key id) in the batch get this job.
      if (entry.key !== "") resubmits.add(scopedKeyOf(entry));
    }
    return refused;
  }

  /**
   * The stored jobs (`columns` of them) that may hold the idempotency keys of `entries`: of their key ids
   * or of none (index `jobs_by_key_idempotency`); {@link idempotencyIndex} picks each entry's.
   */
  async #byIdempotencyKey<R extends IdempotencyRow>(
    entries: PendingInsert[],
    columns: string,
    query: Query,
  ): Promise<R[]> {
    const keyed = entries.filter((e) => e.key !== "");
    if (keyed.length === 0) return [];
    return query<R>("read", byIdempotencyKeys(columns), [
      [...new Set(keyed.map((e) => e.key))],
      [...new Set(keyed.map((e) => e.submitter.keyId))],
    ]);
  }

  /**
   * Inserts the jobs of `batch` with `query`: a row for each job without an idempotency key and for the
   * first use of each key by a key id in the batch (unless an earlier insert, of any bridge, used it with
   * that key id, or a job stored before key ids were has it).
   */
  async #insertRows(batch: PendingInsert[], query: Query): Promise<InsertedRows> {
    const fresh = new Map<PendingInsert, string>();
    const keys = new Set<string>();
    for (const entry of batch) {
      if (entry.key !== "" && keys.has(scopedKeyOf(entry))) continue;
      if (entry.key !== "") keys.add(scopedKeyOf(entry));
      fresh.set(entry, newJobId());
    }
    if (fresh.size === 0) return { fresh, keys, rows: [] };
    const entries = [...fresh];
    const rows = await query<JobRow>(
      "write",
      `INSERT INTO jobs (id, idempotency_key, key_id, state, task, task_type, model, created_at, updated_at)
       SELECT t.id, t.key, t.key_id, ${JobState.QUEUED}, t.task, t.task_type, t.model, n.now, n.now
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::smallint[], $6::text[]) WITH ORDINALITY
         AS t(id, key, key_id, task, task_type, model, ord), (SELECT zerog_now_ms() AS now) n
       WHERE NOT EXISTS (SELECT 1 FROM jobs AS old WHERE old.key_id IS NULL AND old.idempotency_key = t.key)
       ORDER BY t.ord
       ON CONFLICT (key_id, idempotency_key) DO NOTHING
       RETURNING ${jobColumns}, pg_notify('${queuedChannel}', $7) AS notified`,
      [
        entries.map(([, id]) => id),
        entries.map(([e]) => (e.key === "" ? null : e.key)),
        entries.map(([e]) => e.submitter.keyId),
        entries.map(([e]) => encoded(ComputeTaskSchema, e.task)),
        entries.map(([e]) => e.task.taskType),
        entries.map(([e]) => e.task.model),
        this.#origin,
      ],
    );
    return { fresh, keys, rows };
  }

  /**
   * Once the rows are committed: reports the jobs created and answers each entry, with its new job or
   * the job first stored with its idempotency key (and key id, or none). Returns the entries (when
   * `mayRetry`) whose key's job could not be read: deleted by the retention since the insert found the
   * key taken.
   */
  async #answer(
    batch: PendingInsert[],
    { fresh, keys, rows }: InsertedRows,
    mayRetry: boolean,
  ): Promise<PendingInsert[]> {
    const created = new Map<string, JobRecord>();
    for (const row of rows.sort((a, b) => a.seq - b.seq)) created.set(row.id, this.changedRow(row));
    const byKey = new Map<string, JobRecord>();
    for (const record of created.values())
      if (record.idempotencyKey) byKey.set(scopedKey(record.keyId!, record.idempotencyKey), record);
    const taken = batch.filter((e) => e.key !== "" && keys.has(scopedKeyOf(e)) && !byKey.has(scopedKeyOf(e)));
    const stored = idempotencyIndex(await this.#byIdempotencyKey<JobRow>(taken, jobColumns, this.#query));
    for (const entry of taken) {
      const row = stored(entry);
      if (row) byKey.set(scopedKeyOf(entry), toRecord(row));
    }
    const vanished: PendingInsert[] = [];
    for (const entry of batch) {
      const own = created.get(fresh.get(entry) ?? "");
      if (own) {
        entry.resolve({ record: own, created: true });
        continue;
      }
      const first = byKey.get(scopedKeyOf(entry));
      if (!first && mayRetry) {
        vanished.push(entry);
        continue;
      }
      if (!first) {
        entry.reject(
          new ZeroGError("internal", "the job stored with this idempotency key could not be read"),
        );
        continue;
      }
      try {
        entry.resolve({ record: sameTask(first, entry.task), created: false });
      } catch (err) {
        entry.reject(err);
      }
    }
    return vanished;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const [row] = await this.#run<JobRow>("read", "byId", { id });
    return row ? toRecord(row) : undefined;
  }

  async getMany(ids: readonly string[]): Promise<JobRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.#query<JobRow>(
      "read",
      `SELECT ${jobColumns} FROM jobs WHERE id = ANY($1::text[])`,
      [[...ids]],
    );
    return rows.map(toRecord);
  }

  async claim(owner: string, limit: number, leaseMs: number): Promise<ClaimedJob[]> {
    return this.claimed(await this.#run<JobRow>("write", "claim", { owner, limit, leaseMs }));
  }

  async renew(owner: string, leaseMs: number): Promise<Set<string>> {
    const rows = await this.#run<{ id: string }>("write", "renew", { owner, leaseMs });
    return new Set(rows.map((r) => r.id));
  }

  async releaseExpired(maxAttempts: number, options: { all?: boolean } = {}): Promise<ReleasedJobs> {
    return this.released(
      await this.#run<JobRow>("write", "releaseExpired", { maxAttempts, all: options.all ? 1 : 0 }),
    );
  }

  async update(job: Job, lease: Lease, requested: JobPatch): Promise<Job | undefined> {
    const patch = storablePatch(requested);
    const [row] = await this.#run<{ updated_at: number; version: number }>("write", "update", {
      id: job.jobId,
      ...lease,
      progress: patch.progress ?? null,
      provider: patch.provider ?? null,
      stage: patch.stage ?? null,
      message: patch.message ?? null,
    });
    return row ? this.updated(job, patch, row) : undefined;
  }

  async checkpoint(id: string, lease: Lease, state: JobCheckpoint): Promise<boolean> {
    const rows = await this.#run("write", "checkpoint", { id, ...lease, checkpoint: JSON.stringify(state) });
    return rows.length > 0;
  }

  /** Results stored so far that carried their attestation to the database (not known stored). */
  get attestationsSent(): number {
    return this.#attestationsSent;
  }

  /**
   * An attestation this store has stored or read lately (it is in the decoded cache) is not sent again
   * (about 30 kB): the result only references it. If the retention of some bridge deleted it meanwhile,
   * the reference fails the foreign key, nothing is changed, and the result is stored again with it.
   */
  async succeed(id: string, lease: Lease, result: ComputeResult, provider: string): Promise<boolean> {
    const stored = storedResult(result);
    const { attestation } = stored;
    const store = (evidence: Buffer | null) => {
      if (evidence) this.#attestationsSent++;
      return this.#run<JobRow>("write", "succeed", {
        id,
        ...lease,
        result: stored.result,
        hash: attestation?.hash ?? null,
        evidence,
        provider,
      });
    };
    const known = attestation !== undefined && this.attestations.get(attestation.hash) !== undefined;
    let rows: JobRow[];
    try {
      rows = await store(known ? null : (attestation?.evidence ?? null));
    } catch (err) {
      if (!known || !refusedByAttestationReference(err)) throw err;
      rows = await store(attestation.evidence);
    }
    const [row] = rows;
    if (row) this.succeeded(row, result, stored);
    return row !== undefined;
  }

  fail(id: string, lease: Lease, reason: FailureReason, message: string): Promise<boolean> {
    return this.#end("fail", { id, ...lease, reason, errorMessage: storableText(message) });
  }

  requeue(id: string, lease: Lease): Promise<boolean> {
    return this.#end("requeue", { id, ...lease });
  }

  cancel(id: string, message = "cancelled by the client"): Promise<boolean> {
    return this.#end("cancel", { id, errorMessage: storableText(message) });
  }

  async #end(name: "fail" | "requeue" | "cancel", params: Record<string, unknown>): Promise<boolean> {
    const [row] = await this.#run<JobRow>("write", name, params);
    if (row) this.changedRow(row);
    return row !== undefined;
  }

  async result(id: string): Promise<ComputeResult | undefined> {
    const [row] = await this.#run<{ result: Buffer | null; attestation: Buffer | null }>("read", "result", {
      id,
    });
    return this.readStored(row, async (hash) => {
      const [found] = await this.#run<{ evidence: Buffer }>("read", "attestation", { hash });
      return found?.evidence;
    });
  }

  async list(query: ListJobsQuery): Promise<{ records: JobRecord[]; next: number | undefined }> {
    const { text, values } = this.#list(query, (i) => `$${i}`);
    const rows = await this.#query<JobRow>("read", text, values);
    return this.page(rows, query.pageSize);
  }

  async counts(): Promise<Map<JobState, number>> {
    const rows = await this.#run<{ state: number; n: number }>("read", "counts", {});
    return new Map(rows.map((r) => [r.state as JobState, r.n]));
  }

  async deleteEnded(endedBefore: number, limit: number): Promise<number> {
    const rows = await this.#run("write", "deleteEnded", { before: endedBefore, limit });
    return rows.length;
  }

  /**
   * Locks unused attestations FOR UPDATE, skipping those a `succeed` holds (see `storeAttestationOnce`),
   * then deletes those still unused as a new statement sees them: a result committed since references
   * its attestation, which stays. A `succeed` arriving meanwhile waits for the lock and then stores the
   * attestation again. Should the foreign key still refuse the deletion, the deletion yields: nothing is
   * deleted this time.
   */
  async deleteUnusedAttestations(limit: number): Promise<number> {
    const unused = this.#sql.unusedAttestations;
    return this.#transaction(async (query) => {
      const locked = await query<{ hash: Buffer }>(
        "write",
        unused.text,
        unused.names.map(() => limit),
      );
      if (locked.length === 0) return 0;
      const deleted = await query(
        "write",
        `DELETE FROM attestations AS a WHERE hash = ANY($1::bytea[])
         AND NOT EXISTS (SELECT 1 FROM jobs WHERE attestation = a.hash) RETURNING hash`,
        [locked.map((r) => r.hash)],
      );
      return deleted.length;
    }).catch((err: unknown) => {
      if (refusedByAttestationReference(err)) return 0;
      throw err;
    });
  }

  async inFlightByKey(): Promise<Map<string, number>> {
    const rows = await this.#run<{ key_id: string; n: number }>("read", "inFlightByKey", {});
    return new Map(rows.map((r) => [r.key_id, r.n]));
  }

  /** Nothing to wait for: Postgres has made a write durable when it reports the commit. */
  durable(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Tells `listener` what other bridges change, from one LISTEN connection. While that connection is
   * down it reconnects (backing off to 5 s) and then reports `onGap`: notifications in between are lost.
   */
  watchRemote(listener: RemoteChanges): () => void {
    this.#remote.add(listener);
    if (this.#remote.size === 1) void this.#listen(250);
    return () => {
      this.#remote.delete(listener);
      if (this.#remote.size === 0) this.#stopListening();
    };
  }

  async #listen(retryMs: number): Promise<void> {
    if (this.#closed || this.#remote.size === 0 || this.#listener) return;
    const client = new pg.Client({
      connectionString: this.#url,
      keepAlive: true,
      connectionTimeoutMillis: 5000,
      application_name: "zerog-bridge",
    });
    this.#listener = client;
    const retry = () => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.removeAllListeners("notification");
      void client.end().catch(() => {});
      clearTimeout(this.#listenTimer);
      this.#listenTimer = setTimeout(() => void this.#listen(Math.min(retryMs * 2, 5000)), retryMs);
      this.#listenTimer.unref();
    };
    client.on("error", retry);
    client.on("end", retry);
    client.on("notification", (n) => {
      if (n.channel === queuedChannel) {
        if (n.payload !== this.#origin) for (const l of this.#remote) l.onQueued();
        return;
      }
      const [jobId, version, origin] = (n.payload ?? "").split(" ");
      if (!jobId || origin === this.#origin) return;
      for (const l of this.#remote) l.onJob(jobId, Number(version));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${jobChannel}; LISTEN ${queuedChannel}`);
    } catch {
      return retry();
    }
    // Connected: whatever happened before (or while reconnecting) is read again.
    for (const l of this.#remote) l.onGap();
  }

  #stopListening(): void {
    clearTimeout(this.#listenTimer);
    const client = this.#listener;
    this.#listener = undefined;
    if (client) {
      client.removeAllListeners();
      client.on("error", () => {});
      void client.end().catch(() => {});
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stopListening();
    await this.#pool.end();
  }
}
