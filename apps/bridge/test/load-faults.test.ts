import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  type ComputeService,
  FailureReason,
  failureReasonName,
  JobState,
  parseTask,
} from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresJobStore } from "../src/jobs/postgres-store.js";
import { demoTask, waitFor } from "./harness.js";
import { startPostgres, type TestPostgres } from "./postgres.js";
import { type BridgeProcess, spawnBridge } from "./process.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

// Load and faults across two bridge processes on one Postgres: every job an agent got an id for ends
// exactly once (never lost, never ended twice), none is paid for twice (counted at the providers), and
// every failure says why. In CI: 500 jobs (ZEROG_LOAD_JOBS); `pnpm bench` runs it with 10,000.
//
// Clients keep ZEROG_LOAD_CONCURRENCY jobs in flight (submit with an idempotency key, then wait for
// the end, each on whichever bridge is up, retrying on the other), while, as jobs end: providers hang,
// drop connections, answer 503 and garbage; the chain RPC goes down (for longer than the bridges keep
// the service registry they read: they must take jobs on the last one) and comes back; one bridge is
// killed with SIGKILL (and later started again); Postgres restarts.

const jobCount = Number(process.env.ZEROG_LOAD_JOBS ?? 500);
const inFlight = Number(process.env.ZEROG_LOAD_CONCURRENCY ?? 64);
const reportFile = process.env.ZEROG_LOAD_REPORT ?? "test-results/load-faults.md";
/** The bridges read the service registry this often: the chain RPC outage lasts longer. */
const registryRefreshSeconds = 1;

let devnet: Devnet;
let postgres: TestPostgres;
let databaseUrl: string;
let rpc: TcpProxy;
const bridges: BridgeProcess[] = [];

beforeAll(async () => {
  [devnet, postgres] = await Promise.all([startDevnet(), startPostgres()]);
  databaseUrl = await postgres.createDatabase();
  rpc = await startTcpProxy(devnet.rpcUrl);
  // The schema, then an audit of every state change (test instrumentation, not the bridge's).
  await (await PostgresJobStore.open({ url: databaseUrl })).close();
  await sql(`
    CREATE TABLE job_audit (id TEXT NOT NULL, old_state SMALLINT, new_state SMALLINT NOT NULL, owner TEXT,
      at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp());
    CREATE FUNCTION audit_job() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
        INSERT INTO job_audit (id, old_state, new_state, owner)
          VALUES (NEW.id, CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.state END, NEW.state, NEW.lease_owner);
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER audit_job AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION audit_job();`);
}, 180_000);
afterAll(async () => {
  for (const b of bridges) await b.dispose();
  await rpc?.close();
  await devnet?.close();
  await postgres?.close();
});

async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const parsed = parseTask(demoTask);
if (!parsed.ok) throw new Error("bad task");
const task = (prompt: string) => ({ ...parsed.task, inputs: { ...parsed.task.inputs!, prompt } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const terminal = new Set<number>([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]);

/** The last lines of a bridge's stderr, and its last warnings and errors (pino levels 40 and up). */
function stderrTail(bridge: BridgeProcess, lines = 15): string {
  const all = bridge.stderr().trimEnd().split("\n");
  const problems = all.filter((l) => /"level":(4|5|6)\d/.test(l));
  const cut = (l: string) => `    ${l.slice(0, 600)}`;
  return [
    `  last ${lines} warnings and errors (of ${problems.length}):`,
    ...problems.slice(-lines).map(cut),
    `  last ${lines} lines (of ${all.length}):`,
    ...all.slice(-lines).map(cut),
  ].join("\n");
}

interface Replica {
  name: string;
  bridge: BridgeProcess;
  client: Client<typeof ComputeService>;
  up: boolean;
}

describe("load and faults across two bridges on one Postgres", () => {
  it(
    `${jobCount} jobs, ${inFlight} in flight: each acknowledged job ends exactly once, none is lost, none is paid twice`,
    async () => {
      const start = async (name: string): Promise<Replica> => {
        const bridge = await spawnBridge(devnet, {
          databaseUrl,
          rpcUrl: `http://127.0.0.1:${rpc.port}`,
          args: [
            "--lease-seconds=2",
            "--provider-timeout=2",
            "--concurrency=32",
            "--shutdown-grace=3",
            `--registry-refresh=${registryRefreshSeconds}`,
          ],
        });
        bridges.push(bridge);
        return { name, bridge, client: bridge.compute(), up: true };
      };
      const replicas = await Promise.all([start("a"), start("b")]);
      const pick = (n: number) => {
        const up = replicas.filter((r) => r.up);
        return up[n % up.length]!;
      };
      const errors = new Map<string, number>();
      const samples = new Map<string, string>();
      const count = (what: string, err: unknown) => {
        const key = `${what} ${err instanceof ConnectError ? Code[err.code] : "connection"}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
        if (!samples.has(key)) samples.set(key, err instanceof ConnectError ? err.rawMessage : String(err));
      };
      // Submits refused because the chain could not be read: none, the bridges take jobs during an outage.
      let refusedForChain = 0;
      const acknowledged = new Map<string, string>(); // job id → prompt
      let ended = 0;
      const started = performance.now();

      /** One job: submit it (retrying with its key until a bridge acknowledges it), then wait for its end. */
      const runJob = async (i: number) => {
        const prompt = `load and faults job ${i}`;
        let jobId: string | undefined;
        for (let attempt = 0; !jobId; attempt++) {
          if (attempt > 600) throw new Error(`job ${i} was never acknowledged`);
          try {
            const submitted = await pick(i + attempt).client.submit(
              { task: task(prompt), idempotencyKey: `load-${i}` },
              { timeoutMs: 15_000 },
            );
            jobId = submitted.jobId;
          } catch (err) {
            count("Submit", err);
            if (err instanceof ConnectError && /\bchain\b/.test(err.rawMessage)) refusedForChain++;
            await sleep(Math.min(100 * (attempt + 1), 1000));
          }
        }
        acknowledged.set(jobId, prompt);
        for (let attempt = 0; ; attempt++) {
          try {
            await pick(i + attempt + 1).client.getResult(
              { jobId, wait: true, timeoutSeconds: 30 },
              { timeoutMs: 40_000 },
            );
            break;
          } catch (err) {
            // A failed job's GetResult is FAILED_PRECONDITION "job … failed (reason)": it ended.
            if (
              err instanceof ConnectError &&
              err.code === Code.FailedPrecondition &&
              / failed \(/.test(err.rawMessage)
            )
              break;
            count("GetResult", err);
            await sleep(Math.min(100 * (attempt + 1), 1000));
          }
        }
        ended++;
      };

      const [p0, p1] = devnet.providers as [Devnet["providers"][0], Devnet["providers"][0]];
      const timeline: string[] = [];
      let rpcDownAt = 0;
      const faults: Array<[number, string, () => Promise<unknown>]> = [
        [
          0.1,
          "provider 1: 20% of requests hang (billed, never answered); provider 2: 30% answer 503",
          async () => {
            await p0.setFaults({ hang: true, faultRate: 0.2 });
            await p1.setFaults({ failStatus: 503, faultRate: 0.3 });
          },
        ],
        [
          0.2,
          "provider 1: 20% of connections dropped mid-answer; provider 2: 15% answered with garbage",
          async () => {
            await p0.setFaults({ dropConnection: true, faultRate: 0.2 });
            await p1.setFaults({ garbage: true, faultRate: 0.15 });
          },
        ],
        [
          0.3,
          "chain RPC down",
          async () => {
            await rpc.setDown(true);
            rpcDownAt = performance.now();
          },
        ],
        [
          0.38,
          `chain RPC back (once down for ${3 * registryRefreshSeconds} s at least: the bridges' registry read fails meanwhile)`,
          async () => {
            await waitFor(() => performance.now() - rpcDownAt >= 3000 * registryRefreshSeconds, {
              timeoutMs: 60_000,
              what: "the chain RPC to have been down long enough",
            });
            await rpc.setDown(false);
          },
        ],
        [
          0.45,
          "bridge a killed with SIGKILL",
          async () => {
            replicas[0]!.up = false;
            replicas[0]!.bridge.child.kill("SIGKILL");
            await replicas[0]!.bridge.exited;
          },
        ],
        [
          0.55,
          "Postgres restarted (fast shutdown, 1 s down)",
          async () => {
            await postgres.stop();
            await sleep(1000);
            await postgres.start();
          },
        ],
        [0.65, "bridge a started again", async () => replicas.push(await start("a (again)"))],
        [
          0.8,
          "provider faults cleared",
          async () => {
            await p0.setFaults({});
            await p1.setFaults({});
          },
        ],
      ];
      const at = () => `${((performance.now() - started) / 1000).toFixed(1)} s, ${ended} ended`;
      const driver = (async () => {
        for (const [fraction, what, apply] of faults) {
          await waitFor(() => ended >= fraction * jobCount, {
            timeoutMs: 3_600_000,
            intervalMs: 50,
            what: `${fraction * 100}% of the jobs to end`,
          });
          timeline.push(`${at()} (${new Date().toISOString().slice(11, 23)}): ${what}`);
          await apply();
        }
      })();

      let next = 0;
      try {
        await Promise.all([
          ...Array.from({ length: inFlight }, async () => {
            while (next < jobCount) await runJob(next++);
          }),
          driver,
        ]);
      } catch (err) {
        // What the clients saw, when the faults came, and what the bridges said last.
        timeline.push(`${at()}: failed`);
        const diagnostics = [
          "client call errors (count, first message):",
          ...[...errors].sort().map(([what, n]) => `  ${what}: ${n}: ${samples.get(what) ?? ""}`),
          "faults, in order:",
          ...timeline.map((t) => `  ${t}`),
          ...replicas.map(
            (r) => `bridge ${r.name} (pid ${r.bridge.child.pid}) stderr:\n${stderrTail(r.bridge)}`,
          ),
        ];
        (err as Error).message += `\n${diagnostics.join("\n")}`;
        throw err;
      }
      const seconds = (performance.now() - started) / 1000;
      timeline.push(`${at()}: all ended`);

      // From the database, as the bridges left it.
      const jobs = await sql<{
        id: string;
        state: number;
        error_reason: number;
        error_message: string;
        attempts: number;
        has_result: boolean;
      }>(
        "SELECT id, state, error_reason, error_message, attempts, result IS NOT NULL AS has_result FROM jobs",
      );
      // Soft: every check is reported, and the report below is written, whichever fails.
      const byId = new Map(jobs.map((j) => [j.id, j]));
      // None lost: every acknowledged job is there and has ended; one job per idempotency key.
      expect.soft(acknowledged.size).toBe(jobCount);
      expect.soft(jobs.length).toBe(jobCount);
      for (const id of acknowledged.keys()) expect.soft(terminal.has(byId.get(id)?.state ?? 0)).toBe(true);
      // Exactly once: one transition into an end state per job, none out of one.
      const audit = await sql<{ id: string; ends: number; after_end: number }>(
        `SELECT id, count(*) FILTER (WHERE new_state IN (3, 4, 5))::int AS ends,
                count(*) FILTER (WHERE old_state IN (3, 4, 5))::int AS after_end
         FROM job_audit GROUP BY id`,
      );
      expect.soft(audit.length).toBe(jobCount);
      expect.soft(audit.filter((a) => a.ends !== 1 || a.after_end !== 0)).toEqual([]);
      // None paid twice, counted at the providers.
      const bills = new Map<string, number>();
      for (const p of devnet.providers) {
        for (const r of p.billedRequests()) bills.set(r.prompt, (bills.get(r.prompt) ?? 0) + 1);
      }
      const paidTwice = [...bills].filter(([prompt, n]) => n > 1 && prompt.startsWith("load and faults"));
      expect.soft(paidTwice).toEqual([]);
      // Clear outcomes: a result for each success, a reason and a message for each failure.
      const outcomes = new Map<string, number>();
      const messages = new Map<string, string>();
      for (const job of jobs) {
        const outcome =
          job.state === JobState.SUCCEEDED
            ? "succeeded"
            : `failed ${failureReasonName(job.error_reason) ?? "UNSPECIFIED"}`;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (!messages.has(outcome)) messages.set(outcome, job.error_message);
        if (job.state === JobState.SUCCEEDED) expect.soft(job.has_result).toBe(true);
        else {
          expect.soft(job.state).toBe(JobState.FAILED);
          expect.soft(job.error_reason).not.toBe(FailureReason.UNSPECIFIED);
          expect.soft(job.error_message).not.toBe("");
        }
      }
      const succeeded = outcomes.get("succeeded") ?? 0;
      expect.soft(succeeded).toBeGreaterThan(jobCount / 2);
      expect.soft(refusedForChain).toBe(0);
      // The killed bridge's jobs were taken over.
      const takenOver = jobs.filter((j) => j.attempts > 1).length;
      expect.soft(takenOver).toBeGreaterThan(0);

      // Who first ran the jobs another bridge took over, and when (relative to the faults above).
      const takeovers = await sql<{ owner: string; jobs: number; first: string; last: string }>(
        `SELECT a.owner, count(DISTINCT a.id)::int AS jobs,
                to_char(min(a.at), 'HH24:MI:SS.MS') AS first, to_char(max(a.at), 'HH24:MI:SS.MS') AS last
         FROM job_audit a JOIN jobs j ON j.id = a.id
         WHERE j.attempts > 1 AND a.new_state = ${JobState.RUNNING}
           AND a.at = (SELECT min(at) FROM job_audit f WHERE f.id = a.id AND f.new_state = ${JobState.RUNNING})
         GROUP BY a.owner ORDER BY a.owner`,
      );
      const pids = replicas.map((r) => `${r.name}: pid ${r.bridge.child.pid}`).join(", ");
      const billed = [...bills].filter(([prompt]) => prompt.startsWith("load and faults")).length;
      const lines = [
        `${jobCount} jobs, ${inFlight} in flight, two bridge processes (32 jobs each at once, lease 2 s, provider timeout 2 s) on one Postgres, devnet providers and chain RPC behind faults; ${seconds.toFixed(0)} s (${(jobCount / seconds).toFixed(1)} jobs/s) (Node ${process.version}, ${new Date().toISOString().slice(0, 10)}).`,
        "",
        "| check | result |",
        "|---|---|",
        `| acknowledged jobs in the database, each ended | ${acknowledged.size} of ${jobCount} |`,
        `| jobs that ended more than once, or changed after ending (audit trigger) | ${audit.filter((a) => a.ends !== 1 || a.after_end !== 0).length} |`,
        `| prompts billed twice by the providers | ${paidTwice.length} (${billed} prompts billed) |`,
        `| jobs taken over by another bridge (attempts > 1) | ${takenOver} |`,
        `| Submits refused because the chain could not be read | ${refusedForChain} |`,
        "",
        "| outcome | jobs |",
        "|---|---|",
        ...[...outcomes].sort().map(([outcome, n]) => `| ${outcome} | ${n} |`),
        "",
        "A failure message of each kind:",
        "",
        ...[...messages]
          .filter(([, m]) => m)
          .sort()
          .map(([outcome, m]) => `- ${outcome}: ${m}`),
        "",
        "| client call errors, retried (on the other bridge) | count | first message |",
        "|---|---|---|",
        ...[...errors]
          .sort()
          .map(([what, n]) => `| ${what} | ${n} | ${(samples.get(what) ?? "").slice(0, 160)} |`),
        "",
        `Jobs taken over, by the bridge that first ran them (${pids}):`,
        "",
        ...takeovers.map((t) => `- ${t.owner}: ${t.jobs} jobs, first claimed ${t.first} to ${t.last}`),
        "",
        "Faults, in order:",
        "",
        ...timeline.map((t) => `- ${t}`),
      ];
      mkdirSync(dirname(reportFile), { recursive: true });
      writeFileSync(reportFile, `${lines.join("\n")}\n`);
    },
    Math.max(600_000, jobCount * 500),
  );
});
