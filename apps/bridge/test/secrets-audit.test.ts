import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type DescMessage, toBinary, toJsonString } from "@bufbuild/protobuf";
import {
  ComputeService,
  FailureReason,
  Health,
  HealthCheckResponse_ServingStatus,
  JobState,
} from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { parseEther, Wallet } from "ethers";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { task, waitFor } from "./harness.js";
import { startPostgres, type TestPostgres } from "./postgres.js";
import { type BridgeProcess, spawnBridge, spawnBridgeExpectingFailure } from "./process.js";
import { type SwitchableRpc, switchableRpc } from "./rpc-proxy.js";
import { findLeaks, randomText, type Secret, type Seen } from "./secret-scan.js";

// One audit of the standard "secrets never appear in logs, errors or the job store": a bridge process
// at log level trace with distinctive secrets, driven down as many paths as fit in a minute, then
// everything an operator or a client saw is searched for every spelling of every secret.

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../bin/zerog-bridge.js", import.meta.url));

const walletKey = Wallet.createRandom().privateKey;
const keyA = `zk_${randomText(32)}`;
const keyB = `zk_${randomText(32)}`;
/** Rotated in with SIGHUP (keyB rotated out). */
const keyC = `zk_${randomText(32)}`;
/** ZEROG_API_KEY, beside the file's keys (id "default"). */
const envKey = `zk_${randomText(32)}`;
/** A client's key this bridge does not know: not echoed either (it may be a key of another bridge). */
const strangerKey = `zk_${randomText(32)}`;
/** Hosted RPCs take their API key in the URL path. */
const rpcPathSecret = randomText(24);
const rpcUser = "rpc-user";
/** Characters URL encoding changes, so its encoded spelling differs. */
const rpcPassword = `p@ss:${randomText(20)}`;

const keysFile = join(tmpdir(), `zerog-audit-keys-${process.pid}.json`);
const writeKeys = (keys: { id: string; key: string }[]) =>
  writeFileSync(keysFile, JSON.stringify({ keys }), { mode: 0o600 });

let devnet: Devnet;
let postgres: TestPostgres;
let databaseUrl: string;
let rpc: SwitchableRpc;
let bridge: BridgeProcess;
const seen: Seen[] = [];
const sessions: Http2SessionManager[] = [];

function secrets(): Secret[] {
  const pgPassword = new URL(databaseUrl).password;
  return [
    { name: "the wallet key", value: walletKey },
    { name: "API key A", value: keyA },
    { name: "API key B (rotated out)", value: keyB },
    { name: "API key C (rotated in)", value: keyC },
    { name: "ZEROG_API_KEY", value: envKey },
    { name: "a stranger's API key", value: strangerKey },
    { name: "the RPC URL's path key", value: rpcPathSecret },
    { name: "the RPC URL's password", value: rpcPassword },
    { name: "the RPC URL's basic auth", value: `${rpcUser}:${rpcPassword}` },
    { name: "the Postgres password", value: pgPassword },
  ];
}

const text = (where: string, s: string) => seen.push({ where, bytes: Buffer.from(s) });
const headerText = (h: Headers) => [...h].map(([k, v]) => `${k}: ${v}`).join("\n");

function recordMessage(where: string, schema: DescMessage, message: unknown) {
  seen.push({ where, bytes: Buffer.from(toBinary(schema, message as never)) });
  text(where, toJsonString(schema, message as never));
}

function recordError(where: string, err: unknown) {
  const e = ConnectError.from(err);
  text(`${where} error`, `${e.code} ${e.message} ${e.rawMessage}\n${headerText(e.metadata)}`);
  for (const { value } of e.details) {
    const bytes = value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(JSON.stringify(value));
    seen.push({ where: `${where} error detail`, bytes });
  }
}

/** Keeps every answer, header, trailer and error a client receives. */
const recorder =
  (protocol: string): Interceptor =>
  (next) =>
  async (req) => {
    const where = `${protocol} ${req.method.name}`;
    try {
      const res = await next(req);
      text(`${where} headers`, headerText(res.header));
      if (!res.stream) {
        recordMessage(where, res.method.output, res.message);
        text(`${where} trailers`, headerText(res.trailer));
        return res;
      }
      const messages = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            for await (const m of messages) {
              recordMessage(where, res.method.output, m);
              yield m;
            }
          } catch (err) {
            recordError(where, err);
            throw err;
          }
          text(`${where} trailers`, headerText(res.trailer));
        })(),
      };
    } catch (err) {
      recordError(where, err);
      throw err;
    }
  };

type Protocol = "grpc" | "connect" | "grpc-web";
const protocols: Protocol[] = ["grpc", "connect", "grpc-web"];

/** A transport of `protocol` sending `authorization` as given (a Bearer key, a malformed value, none). */
function transport(protocol: Protocol, authorization?: string): Transport {
  const baseUrl = bridge.baseUrl;
  const interceptors: Interceptor[] = [recorder(protocol)];
  if (authorization)
    interceptors.push((next) => (req) => {
      req.header.set("authorization", authorization);
      return next(req);
    });
  if (protocol === "grpc") {
    const sessionManager = new Http2SessionManager(baseUrl);
    sessions.push(sessionManager);
    return createGrpcTransport({ baseUrl, sessionManager, interceptors });
  }
  const make = protocol === "connect" ? createConnectTransport : createGrpcWebTransport;
  return make({ baseUrl, httpVersion: "1.1", interceptors });
}

const compute = (protocol: Protocol, key?: string): Client<typeof ComputeService> =>
  createClient(ComputeService, transport(protocol, key && `Bearer ${key}`));

/** A plain HTTP request whose status, headers and body are kept. */
async function httpCall(where: string, path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${bridge.baseUrl}${path}`, init);
  const body = Buffer.from(await res.arrayBuffer());
  seen.push({
    where,
    bytes: Buffer.concat([Buffer.from(`${res.status}\n${headerText(res.headers)}\n`), body]),
  });
  return new Response(body, { status: res.status, headers: res.headers });
}

const settled = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

const health = () => createClient(Health, transport("grpc"));
const status = async () =>
  (
    await health()
      .check({ service: "" }, { timeoutMs: 2000 })
      .catch(() => undefined)
  )?.status;

beforeAll(async () => {
  [devnet, postgres] = await Promise.all([startDevnet(), startPostgres()]);
  databaseUrl = await postgres.createDatabase();
  const deployer = new Wallet(devnet.chain.accounts.deployer.privateKey, devnet.chain.provider);
  await (
    await deployer.sendTransaction({ to: new Wallet(walletKey).address, value: parseEther("100") })
  ).wait();
  rpc = await switchableRpc(devnet.rpcUrl, { path: `/v3/${rpcPathSecret}` });
  writeKeys([
    { id: "agent-a", key: keyA },
    { id: "agent-b", key: keyB },
  ]);
  bridge = await spawnBridge(devnet, {
    rpcUrl: rpc.url,
    databaseUrl,
    env: { ZEROG_WALLET_KEY: walletKey, ZEROG_API_KEY: envKey },
    args: [
      `--api-keys-file=${keysFile}`,
      "--log-level=trace",
      "--log-format=json",
      "--chain-check-interval=1",
      "--provider-timeout=5",
    ],
  });
});
afterAll(async () => {
  for (const s of sessions) s.abort();
  await bridge?.dispose();
  await rpc?.stop();
  await devnet?.close();
  await postgres?.close();
});

describe("the audit's scan", () => {
  it("finds a secret in each spelling: parts, either case, raw bytes, base64, URL-encoded, basic auth", () => {
    const hex = walletKey.slice(2);
    const found = (bytes: Buffer, value: string) =>
      findLeaks([{ where: "x", bytes }], [{ name: "s", value }]);
    for (const bytes of [
      Buffer.from(`key=0x${hex.toUpperCase()}`),
      Buffer.from(`"${hex.slice(20, 32)}…"`),
      Buffer.from(hex, "hex"),
      Buffer.from(`{"k":"${Buffer.from(hex, "hex").toString("base64")}"}`),
    ])
      expect(found(bytes, walletKey)).toHaveLength(1);
    expect(found(Buffer.from(`...": ${keyA.slice(0, 10)}"...`), keyA)).toHaveLength(1);
    expect(found(Buffer.from(`http://u:${encodeURIComponent(rpcPassword)}@h`), rpcPassword)).toHaveLength(1);
    const basic = `Basic ${Buffer.from(`${rpcUser}:${rpcPassword}`).toString("base64")}`;
    expect(found(Buffer.from(basic), `${rpcUser}:${rpcPassword}`)).toHaveLength(1);
    expect(found(Buffer.from(`0x${randomText(64)} ${hex.slice(0, 11)}`), walletKey)).toEqual([]);
  });
});

describe("secrets audit: a bridge process at log level trace, driven down every path", () => {
  it("runs jobs (unary, streamed, over each protocol), failed ones, and a cancelled one", async () => {
    for (const protocol of protocols) {
      const client = compute(protocol, keyA);
      const { jobId } = await client.submit({ task: task({ inputs: { prompt: `over ${protocol}` } }) });
      await client.getResult({ jobId, wait: true, timeoutSeconds: 30 });
      await client.getJob({ jobId });
      await client.listJobs({});
      await client.listServices({});
    }
    const client = compute("grpc", keyA);
    const streamed = await client.submit({ task: task({ inputs: { prompt: "streamed", stream: true } }) });
    for await (const event of client.watchJob({ jobId: streamed.jobId }))
      if (event.job?.state === JobState.SUCCEEDED) break;
    await client.getResult({ jobId: streamed.jobId, wait: true, timeoutSeconds: 30 });

    // Providers that answer garbage, then an error status, then none at all: failed jobs with their messages.
    for (const faults of [{ garbage: true }, { failStatus: 500 }, { down: true }]) {
      await Promise.all(devnet.providers.map((p) => p.setFaults(faults)));
      const { jobId } = await client.submit({ task: task({ inputs: { prompt: JSON.stringify(faults) } }) });
      await settled(client.getResult({ jobId, wait: true, timeoutSeconds: 30 }));
      expect((await client.getJob({ jobId })).state).toBe(JobState.FAILED);
    }

    await Promise.all(devnet.providers.map((p) => p.setFaults({ latencyMs: 5000 })));
    const slow = await client.submit({ task: task({ inputs: { prompt: "to be cancelled" } }) });
    await client.cancelJob({ jobId: slow.jobId });
    await waitFor(async () => (await client.getJob({ jobId: slow.jobId })).state === JobState.CANCELLED, {
      what: "the job cancelled",
    });
    await Promise.all(devnet.providers.map((p) => p.setFaults({})));
  });

  it("refuses missing, unknown, malformed and rotated-out API keys over gRPC, Connect and gRPC-web", async () => {
    const refusal = async (protocol: Protocol, authorization: string | undefined) => {
      const client = createClient(ComputeService, transport(protocol, authorization));
      return ConnectError.from(await settled(client.listJobs({}))).code;
    };
    const refusals = (key: string | undefined, raw?: string) =>
      Promise.all(protocols.map((protocol) => refusal(protocol, raw ?? (key && `Bearer ${key}`))));
    const unauthenticated = protocols.map(() => Code.Unauthenticated);
    expect(await refusals(undefined)).toEqual(unauthenticated);
    expect(await refusals(strangerKey)).toEqual(unauthenticated);
    expect(await refusals(undefined, keyA)).toEqual(unauthenticated); // no "Bearer"
    expect(await refusals(undefined, `Basic ${Buffer.from(`agent-a:${keyA}`).toString("base64")}`)).toEqual(
      unauthenticated,
    );
    expect(await refusals(undefined, `Bearer ${keyA} ${keyB}`)).toEqual(unauthenticated);

    // Rotation: B out, C in (SIGHUP); then a broken file (a key without its quotes) keeps C in force.
    writeKeys([
      { id: "agent-a", key: keyA },
      { id: "agent-c", key: keyC },
    ]);
    bridge.child.kill("SIGHUP");
    await waitFor(async () => (await refusal("grpc", `Bearer ${keyB}`)) === Code.Unauthenticated, {
      what: "key B refused",
    });
    expect(await refusals(keyB)).toEqual(unauthenticated);
    await compute("grpc-web", keyC).listJobs({});
    writeFileSync(keysFile, `{"keys": [{"id": "agent-c", "key": ${keyC}}]}`);
    bridge.child.kill("SIGHUP");
    await waitFor(() => /API keys not reloaded/.test(bridge.stderr()), { what: "the reload error" });
    await compute("connect", keyC).listJobs({});
    await compute("grpc-web", envKey).listJobs({});
  });

  it("answers bad requests INVALID_ARGUMENT, /metrics with and without a key, and health", async () => {
    for (const protocol of protocols) {
      const client = compute(protocol, keyA);
      const bad = await settled(client.submit({ task: { ...task(), model: "" } }));
      expect(ConnectError.from(bad).code).toBe(Code.InvalidArgument);
      expect(ConnectError.from(await settled(client.getJob({ jobId: "job_nope" }))).code).toBeGreaterThan(0);
    }
    const connectJson = (body: string, key?: string) =>
      httpCall("Connect JSON Submit (raw)", "/chaoschain.zerog.v1.ComputeService/Submit", {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body,
      });
    expect((await connectJson('{"task": {"model": 5}}', keyA)).status).toBe(400);
    expect((await connectJson("{not json", keyA)).status).toBe(400);
    expect((await connectJson("{}")).status).toBe(401);
    expect((await connectJson("{}", strangerKey)).status).toBe(401);

    expect((await httpCall("GET /metrics without a key", "/metrics")).status).toBe(401);
    expect((await metrics(strangerKey)).status).toBe(401);
    expect((await metrics(keyA)).status).toBe(200);
    expect((await metrics(envKey)).status).toBe(200);

    expect(await status()).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const cli = await run(process.execPath, [bin, "health", `--url=${bridge.baseUrl}`]);
    text("zerog-bridge health", cli.stdout + cli.stderr);
  });

  it("reports a chain RPC outage without naming the RPC's key", async () => {
    await rpc.stop();
    await waitFor(async () => (await status()) === HealthCheckResponse_ServingStatus.NOT_SERVING, {
      what: "NOT_SERVING",
    });
    const cli = await settled(run(process.execPath, [bin, "health", `--url=${bridge.baseUrl}`]));
    text("zerog-bridge health during the outage", JSON.stringify(cli));
    const client = compute("grpc", keyA);
    const job = await settled(client.submit({ task: task({ inputs: { prompt: "during the outage" } }) }));
    if (job) recordError("Submit during the outage", job);
    await metrics(keyA);
    await rpc.start();
    await waitFor(async () => (await status()) === HealthCheckResponse_ServingStatus.SERVING, {
      what: "SERVING again",
    });
  });

  it("fails a job on chain RPC errors (HTTP 500, 401, 200 not JSON) without naming the RPC's key", async () => {
    const client = compute("connect", keyA);
    for (const answer of [
      { status: 500, body: '{"error": "injected failure"}' },
      { status: 401, body: "" },
      { status: 200, body: "<html>not JSON-RPC</html>" },
    ]) {
      rpc.failWith(answer);
      try {
        await waitFor(async () => (await status()) === HealthCheckResponse_ServingStatus.NOT_SERVING, {
          what: "NOT_SERVING",
        });
        // The provider not used yet: the bridge must fund it on chain first.
        const { jobId } = await client.submit({ task: task({ model: "gpt-oss-120b" }) });
        await settled(client.getResult({ jobId, wait: true, timeoutSeconds: 30 }));
        const job = await client.getJob({ jobId });
        expect(job.state).toBe(JobState.FAILED);
        expect(job.error?.reason).toBe(FailureReason.CHAIN_ERROR);
        await metrics(keyA);
      } finally {
        rpc.failWith(undefined);
      }
      await waitFor(async () => (await status()) === HealthCheckResponse_ServingStatus.SERVING, {
        what: "SERVING again",
      });
    }
  });

  it("stops on SIGTERM; then no secret is in its output, any answer, /metrics or the job store", async () => {
    bridge.child.kill("SIGTERM");
    expect((await bridge.exited).code).toBe(0);
    text("the bridge's stdout", bridge.stdout());
    text("the bridge's stderr (its JSON log)", bridge.stderr());
    expect(bridge.stderr()).toMatch(/"level":20,/); // debug lines were written (none are trace)
    const store = await dumpDatabase(databaseUrl);
    expect(Buffer.concat(store.map((s) => s.bytes)).includes("over grpc-web")).toBe(true);
    seen.push(...store);
    expect(seen.length).toBeGreaterThan(50);
    expect(findLeaks(seen, secrets())).toEqual([]);
  });
});

async function metrics(key: string) {
  return httpCall("GET /metrics", "/metrics", { headers: { authorization: `Bearer ${key}` } });
}

/**
 * Every row of every table of the database: each value as the store wrote it (bytea as its bytes,
 * where a secret inside a stored message would be), and Postgres's text form of the row.
 */
async function dumpDatabase(url: string): Promise<Seen[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
       WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`,
    );
    const out: Seen[] = [];
    for (const { schema, name } of tables.rows) {
      const table = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
      const rows = await client.query<Record<string, unknown>>(
        `SELECT t.*, t::text AS "row as text" FROM ${table} t`,
      );
      const values = rows.rows.flatMap((row) =>
        Object.values(row).map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(`${JSON.stringify(v)}\n`))),
      );
      out.push({ where: `the job store table ${name}`, bytes: Buffer.concat(values) });
    }
    return out;
  } finally {
    await client.end();
  }
}

describe("secrets audit: a bridge that refuses to start does not echo a secret", () => {
  const refusal = async (where: string, params: Parameters<typeof spawnBridge>[1]) => {
    const failed = await spawnBridgeExpectingFailure(devnet, params);
    return { where, bytes: Buffer.from(failed.stderr) };
  };

  it("a malformed wallet key, an API keys file with an unquoted key, a flag that is not one, a bad database", async () => {
    const keyFile = join(tmpdir(), `zerog-audit-wallet-${process.pid}`);
    writeFileSync(keyFile, `${walletKey}0\n`, { mode: 0o600 });
    const brokenKeys = join(tmpdir(), `zerog-audit-broken-keys-${process.pid}.json`);
    writeFileSync(brokenKeys, `{"keys": [{"id": "agent-a", "key": ${keyA}}]}`, { mode: 0o600 });
    const pgPassword = new URL(databaseUrl).password;
    const outputs = [
      await refusal("ZEROG_WALLET_KEY one digit too long", { env: { ZEROG_WALLET_KEY: `${walletKey}0` } }),
      await refusal("ZEROG_WALLET_KEY with 0X", { env: { ZEROG_WALLET_KEY: `0X${walletKey.slice(2)}` } }),
      await refusal("--wallet-key-file with a key too long", { args: [`--wallet-key-file=${keyFile}`] }),
      await refusal("--wallet-key (not a flag)", { args: [`--wallet-key=${walletKey}`] }),
      await refusal("--api-keys-file with a key without quotes", { args: [`--api-keys-file=${brokenKeys}`] }),
      await refusal("--database-url of a database that does not exist", {
        databaseUrl: postgres.url("no_such_database"),
      }),
      await refusal("--database-url with a bad port", {
        args: [`--database-url=postgres://zerog:${pgPassword}@127.0.0.1:port/x`],
      }),
    ];
    expect(outputs.map((o) => o.bytes.toString()).join("\n")).toMatch(/wallet key/);
    expect(findLeaks(outputs, secrets())).toEqual([]);
  });

  // An RPC URL with user:password@: fetch refuses such a URL and used to quote it whole, password included,
  // in the start's error. Its credentials are now sent as a Basic authorization, and the RPC named by its
  // origin: the bridge starts and serves through an RPC that requires them, and names them nowhere.
  it("an RPC URL with user:password@ credentials: the bridge serves through it and shows them nowhere", async () => {
    const guarded = await switchableRpc(devnet.rpcUrl, { basicAuth: `${rpcUser}:${rpcPassword}` });
    try {
      const url = new URL(guarded.url);
      url.username = rpcUser;
      url.password = rpcPassword;
      const bridge = await spawnBridge(devnet, { rpcUrl: url.href });
      await bridge.dispose();
      const output = {
        where: "a bridge on an RPC URL with credentials",
        bytes: Buffer.from(bridge.stdout() + bridge.stderr()),
      };
      expect(findLeaks([output], secrets())).toEqual([]);
    } finally {
      await guarded.stop();
    }
  });
});
