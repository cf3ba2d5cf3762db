import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { unwatchFile, watchFile } from "node:fs";
import { hostname } from "node:os";
import {
  ComputeService,
  failureReasonName,
  Health,
  isTerminalState,
  type Job,
  JobState,
  jobStateName,
} from "@chaoschain/zerog-core";
import type { ConnectRouter, HandlerContext, Interceptor } from "@connectrpc/connect";
import { formatEther } from "ethers";
import type { Logger } from "pino";
import {
  type ApiKey,
  ApiKeysFileError,
  type Caller,
  type KeyLimits,
  KeyRing,
  readApiKeysFile,
  readableByOthers,
  singleApiKey,
  weakKey,
} from "./auth/api-keys.js";
import { anonymous, callerKey, createCallGate, traceKey } from "./auth/call-gate.js";
import type { ComputeBackend } from "./backend.js";
import { startChainMonitor } from "./chain-monitor.js";
import { createHealthService, HealthState } from "./health.js";
import type { CorsOrigins } from "./http/gate.js";
import type { MetricsAccess } from "./http/rpc-handler.js";
import type { TlsFiles } from "./http/tls.js";
import { childTraceparent, type TraceContext } from "./http/trace-context.js";
import { createAuthInterceptor } from "./interceptors/auth.js";
import { createErrorInterceptor } from "./interceptors/errors.js";
import { createLoggingInterceptor } from "./interceptors/logging.js";
import { createMetricsInterceptor } from "./interceptors/metrics.js";
import { JobEvents } from "./jobs/job-events.js";
import type { JobStore } from "./jobs/job-store.js";
import { publishRemoteChanges } from "./jobs/remote-jobs.js";
import { defaultJobRetentionSeconds, type Retention, startRetention } from "./jobs/retention.js";
import { SqliteJobStore } from "./jobs/sqlite-store.js";
import { type StorageError, storageZeroGError } from "./jobs/storage-error.js";
import { Worker } from "./jobs/worker.js";
import { RateLimiter } from "./limits/rate-limiter.js";
import { type BridgeMetrics, createBridgeMetrics } from "./metrics/bridge-metrics.js";
import { timeStore } from "./metrics/timed-store.js";
import { createReflectionService } from "./reflection.js";
import { createHttpServer, defaultServerLimits, type ServerLimits } from "./server.js";
import { createComputeService } from "./service.js";

export interface BridgeOptions {
  backend: ComputeBackend;
  logger: Logger;
  /** SQLite file for jobs (created with its folder); ":memory:" for a throwaway store. */
  dbPath?: string | undefined;
  /**
   * An opened job store instead of `dbPath`, e.g. `await PostgresJobStore.open({ url })` to share the
   * jobs with other bridges. The bridge closes it.
   */
  store?: JobStore | undefined;
  /**
   * How long a running job stays this bridge's without renewal, ms: on a shared store, another bridge
   * takes a job over this long after its bridge died. Renewed every third of it. Default 30 000.
   */
  leaseMs?: number | undefined;
  /**
   * Ended jobs (succeeded, failed, cancelled) are deleted with their task and result this long after
   * they ended, ms, by a sweep in the background (which deletes the attestations no result uses any
   * more too); 0 keeps them for ever. Default 30 days.
   */
  jobRetentionMs?: number | undefined;
  /** The retention's sweeps: every `intervalMs` (default 60 000), by the clock `now` (default `Date.now`). */
  retentionSweep?: { intervalMs?: number | undefined; now?: (() => number) | undefined } | undefined;
  /** This bridge's name in the leases it takes. Default `<host>-<pid>-<random>`. */
  replicaId?: string | undefined;
  /** A required bearer key (id "default"); with neither this nor `apiKeysFile`, no authentication. */
  apiKey?: string | undefined;
  /**
   * A JSON file of API keys with ids and limits (see the README's "API keys"), read again on
   * `reload()` and when it changes.
   */
  apiKeysFile?: string | undefined;
  /** Rate and in-flight jobs limits of keys that set none (and of every caller without keys). */
  keyLimits?: KeyLimits | undefined;
  /** Serve TLS with these files; `reload()` reads them again. */
  tls?: TlsFiles | undefined;
  /** Metrics to record to (created when not given; a launcher passes them to the backend too). */
  metrics?: BridgeMetrics | undefined;
  /** Who may read `GET /metrics`. Default "auth": with an API key, when the bridge has keys. */
  metricsAccess?: MetricsAccess | undefined;
  /** Health follows the chain: NOT_SERVING while its RPC does not answer a check every `checkIntervalMs`. */
  chain?:
    | {
        rpcUrl: string;
        /**
         * The chain id the backend signs for: NOT_SERVING while the RPC answers another. Default: the
         * first one a check reads (a chain switched before it would go unnoticed).
         */
        chainId?: bigint | undefined;
        checkIntervalMs: number;
        /** The wallet's ledger, read after each good check for `zerog_ledger_balance_0g`. */
        ledgerBalance?: (() => Promise<{ available: bigint; total: bigint } | undefined>) | undefined;
      }
    | undefined;
  /** How often the API keys and TLS files are looked at for changes, ms. Default 2000. */
  fileWatchIntervalMs?: number | undefined;
  /** Jobs run at once. Default 16. */
  concurrency?: number;
  /** Starts allowed per job across restarts. Default 3. */
  maxAttempts?: number;
  /** GetResult wait without a timeout in the request. Default 60 s. */
  defaultWaitSeconds?: number;
  /** Longest GetResult wait. Default 3600 s. */
  maxWaitSeconds?: number;
  /** Connection and request limits and timeouts; defaults in `defaultServerLimits`. */
  limits?: Partial<ServerLimits> | undefined;
  /**
   * Browser origins allowed to call. Default: any origin when an API key is required (pages cannot
   * call without it), none without one (any page could submit jobs).
   */
  corsOrigins?: CorsOrigins | undefined;
  /** Host names accepted, besides loopback ones, when listening on loopback. */
  allowedHosts?: readonly string[] | undefined;
}

export interface Bridge {
  /** Starts serving; resolves with the bound address. */
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /**
   * Graceful stop within `graceMs` (default 10 s): NOT_SERVING, every new call UNAVAILABLE, GOAWAY on
   * HTTP/2; running jobs finish, or are requeued a second before the end, when WatchJob and waiting
   * GetResult calls end UNAVAILABLE; then every connection is closed.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  /** Starts running queued jobs without serving (`listen` does this too): for other transports. */
  start(): void;
  readonly store: JobStore;
  /**
   * The services, and the router options they need (interceptors, the shutdown signal), to serve them
   * on another transport, e.g. `createRouterTransport(bridge.routes, { router: bridge.routerOptions })`.
   */
  readonly routes: (router: ConnectRouter) => void;
  readonly routerOptions: { interceptors: Interceptor[]; shutdownSignal: AbortSignal };
  /**
   * Reads the API keys file and the TLS files again (SIGHUP): new keys and certificate for new calls
   * and connections. What does not load is reported and leaves the current one in force.
   */
  reload(): { ok: boolean; messages: string[] };
  /** A `traceparent` for a provider call of a job submitted with a trace (W3C Trace Context). */
  traceparentOf(jobId: string): string | undefined;
  readonly metrics: BridgeMetrics;
}

/**
 * While the job store cannot be written: NOT_SERVING with the reason, and a small write tried every
 * second; once one succeeds (that or any other), SERVING again and the worker resumes.
 */
function watchStorage(health: HealthState, logger: Logger, store: JobStore, resume: () => Promise<void>) {
  let timer: NodeJS.Timeout | undefined;
  const stopProbing = () => {
    clearInterval(timer);
    timer = undefined;
  };
  return {
    changed(problem: StorageError | undefined) {
      // Health answers anyone: the cause, without the file's path (the log has it).
      health.setStorageProblem(problem ? storageZeroGError(problem).shortMessage : undefined);
      if (problem) {
        logger.error({ code: problem.code }, `${problem.message}; NOT_SERVING until a write succeeds`);
        timer ??= setInterval(() => void store.probe(), 1000).unref();
        return;
      }
      logger.warn("the job store can be written again; SERVING");
      stopProbing();
      // Not from inside the store's write that ended the problem.
      setImmediate(() => void resume());
    },
    stop: stopProbing,
  };
}

/** The keys of a bridge: from its keys file and/or ZEROG_API_KEY; undefined when it has neither. */
function loadKeys(options: BridgeOptions): ApiKey[] | undefined {
  if (!options.apiKeysFile && !options.apiKey) return undefined;
  const fromFile = options.apiKeysFile ? readApiKeysFile(options.apiKeysFile) : [];
  if (!options.apiKey) return fromFile;
  const single = singleApiKey(options.apiKey);
  // Two keys of one id would share their jobs (and quota).
  const taken = fromFile.findIndex((k) => k.id === single.id);
  if (taken >= 0)
    throw new ApiKeysFileError(
      `the API keys file ${options.apiKeysFile}: keys[${taken}].id "${single.id}" is the id of ZEROG_API_KEY, also set: use another id`,
    );
  return [single, ...fromFile];
}

/** Who makes a call: the caller the auth interceptor admitted (without API keys, the anonymous one). */
const callerOf = (ctx: HandlerContext): Caller => ctx.values.get(callerKey) ?? anonymous;

/** Longest-lived entries of the job trace map (jobs submitted with a trace and not ended yet). */
const maxTracedJobs = 100_000;

/** Stage names that become metric labels: a provider's (fine-tuning) stage only if it looks like one. */
const stageLabel = (stage: string) => (/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(stage) ? stage : "other");

/**
 * Follows every job change for metrics and bookkeeping: time in each stage (queued, running, or the
 * provider's own stage), jobs ended by state and reason, and `onEnded` once per job.
 */
function followJobs(metrics: BridgeMetrics, onEnded: (jobId: string) => void) {
  const stages = new Map<string, { stage: string; since: number }>();
  return (job: Job) => {
    const now = performance.now();
    const stage = job.state === JobState.QUEUED ? "queued" : job.stage ? stageLabel(job.stage) : "running";
    const previous = stages.get(job.jobId);
    if (previous && (previous.stage !== stage || isTerminalState(job.state)))
      metrics.stageSeconds.observe({ stage: previous.stage }, (now - previous.since) / 1000);
    if (isTerminalState(job.state)) {
      stages.delete(job.jobId);
      const reason = job.error ? (failureReasonName(job.error.reason) ?? "unspecified") : "";
      metrics.jobsEnded.inc({ state: jobStateName(job.state) ?? "unknown", reason });
      onEnded(job.jobId);
    } else if (!previous || previous.stage !== stage) stages.set(job.jobId, { stage, since: now });
  };
}

/** Wires store, worker, services, interceptors and the HTTP server; nothing listens until `listen`. */
export function createBridge(options: BridgeOptions): Bridge {
  const { backend, logger } = options;
  const metrics = options.metrics ?? createBridgeMetrics();
  const events = new JobEvents();
  const health = new HealthState();
  const rawStore = options.store ?? new SqliteJobStore(options.dbPath ?? ":memory:");
  const store = timeStore(rawStore, (operation, seconds) =>
    metrics.storeSeconds.observe({ operation }, seconds),
  );
  const storage = watchStorage(health, logger, store, () => worker.resume());
  // The trace of each job submitted with one, for its provider calls (see onSubmitted).
  const traces = new Map<string, TraceContext>();
  const follow = followJobs(metrics, (jobId) => traces.delete(jobId));
  rawStore.attach({
    onChange: (change) => {
      follow(change.job);
      events.publish(change);
    },
    onStorage: (problem) => storage.changed(problem),
  });
  const replicaId = options.replicaId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const worker = new Worker({
    store,
    events,
    backend,
    logger,
    concurrency: options.concurrency ?? 16,
    maxAttempts: options.maxAttempts ?? 3,
    owner: replicaId,
    leaseMs: options.leaseMs ?? 30_000,
  });
  let remote: { stop(): void } | undefined;
  const retentionMs = options.jobRetentionMs ?? defaultJobRetentionSeconds * 1000;
  let retention: Retention | undefined;
  const shutdown = new AbortController();
  // Every call in flight listens to it (Connect links each call's signal to it): no listener limit.
  setMaxListeners(0, shutdown.signal);
  const services = [ComputeService, Health];
  const routes = (router: ConnectRouter) => {
    router.service(
      ComputeService,
      createComputeService({
        store,
        events,
        worker,
        backend,
        jobRetentionMs: retentionMs,
        defaultWaitSeconds: options.defaultWaitSeconds ?? 60,
        maxWaitSeconds: options.maxWaitSeconds ?? 3600,
        onSubmitted: (job, ctx) => {
          const trace = ctx.values.get(traceKey);
          if (!trace) return;
          if (traces.size >= maxTracedJobs) traces.delete(traces.keys().next().value!);
          traces.set(job.jobId, trace);
        },
        submitter: (ctx) => {
          const caller = callerOf(ctx);
          return { keyId: caller.id, maxInFlight: caller.maxJobsInFlight ?? keyLimits.maxJobsInFlight };
        },
        onQuotaExceeded: (key) => metrics.quotaExceeded.inc({ key }),
        // With API keys, a key reaches its own jobs (an operator key every job); without, the one
        // tenant reaches every job.
        jobsOf: (ctx) => {
          const caller = callerOf(ctx);
          return keys && !caller.allJobs ? caller.id : undefined;
        },
      }),
    );
    router.service(Health, createHealthService(health));
    createReflectionService(services, {
      requestTimeoutMs: options.limits?.requestTimeoutMs ?? defaultServerLimits.requestTimeoutMs,
    }).register(router);
  };

  const initialKeys = loadKeys(options);
  const keys = initialKeys ? new KeyRing(initialKeys) : undefined;
  if (!keys)
    logger.warn("no API key configured (ZEROG_API_KEY, --api-keys-file): the bridge accepts every caller");
  else if (options.apiKey && weakKey(options.apiKey))
    logger.warn("ZEROG_API_KEY is shorter than 16 characters: use a random one (openssl rand -hex 24)");
  const warnIfNone = () => {
    if (keys?.size === 0) logger.warn("the API keys file holds no key: every call but health is refused");
  };
  warnIfNone();
  if (options.apiKeysFile && readableByOthers(options.apiKeysFile))
    logger.warn({ file: options.apiKeysFile }, "the API keys file can be read by other users: chmod 600 it");
  const limiter = new RateLimiter();
  const keyLimits = options.keyLimits ?? {};
  const gate = createCallGate({
    keys,
    defaults: keyLimits,
    limiter,
    onRateLimited: (caller) => metrics.rateLimited.inc({ key: caller.id }),
  });
  const observe = (method: string, code: string, key: string, seconds: number) => {
    metrics.calls.inc({ method, code, key });
    metrics.callSeconds.observe({ method }, seconds);
  };
  const interceptors: Interceptor[] = [
    createLoggingInterceptor(logger),
    createMetricsInterceptor(observe),
    createErrorInterceptor(logger),
    createAuthInterceptor(gate),
  ];
  const server = createHttpServer({
    routes,
    interceptors,
    shutdownSignal: shutdown.signal,
    logger,
    limits: options.limits,
    gate,
    tls: options.tls,
    metrics: { access: options.metricsAccess ?? "auth", expose: () => metrics.registry.expose() },
    observe,
    corsOrigins: options.corsOrigins ?? (keys ? "*" : []),
    allowedHosts: options.allowedHosts,
  });

  metrics.registry.collect(async () => {
    // On Postgres, every bridge's jobs; a store that cannot be read leaves the last counts.
    const counts = await store.counts().catch(() => undefined);
    if (counts) {
      metrics.jobs.reset();
      for (const state of [
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.SUCCEEDED,
        JobState.FAILED,
        JobState.CANCELLED,
      ])
        metrics.jobs.set({ state: jobStateName(state) ?? String(state) }, counts.get(state) ?? 0);
    }
    const stats = server.connectionStats();
    for (const [protocol, n] of Object.entries(stats.open)) metrics.connections.set({ protocol }, n);
    metrics.connectionsAccepted.setTotal({}, stats.accepted);
    metrics.connectionsRefused.setTotal({}, stats.refused);
    // Each key's jobs queued or running, submitted to any bridge sharing the store.
    const inFlight = await store.inFlightByKey().catch(() => undefined);
    if (inFlight) {
      metrics.jobsInFlight.reset();
      for (const id of keys?.ids ?? ["anonymous"])
        metrics.jobsInFlight.set({ key: id }, inFlight.get(id) ?? 0);
    }
    metrics.apiKeys.set({}, keys?.size ?? 0);
    metrics.serving.set({ component: "store" }, health.ok("store") ? 1 : 0);
    metrics.serving.set({ component: "chain" }, health.ok("chain") ? 1 : 0);
    metrics.serving.set({ component: "shutdown" }, health.stopping ? 0 : 1);
  });

  const reload = (): { ok: boolean; messages: string[] } => {
    const messages: string[] = [];
    let ok = true;
    if (keys && options.apiKeysFile) {
      try {
        const loaded = loadKeys(options)!;
        keys.replace(loaded);
        limiter.retain(keys.ids);
        metrics.apiKeyReloads.inc({ result: "ok" });
        logger.info({ keys: keys.ids }, "API keys reloaded");
        warnIfNone();
        messages.push(`API keys reloaded: ${keys.size}`);
      } catch (err) {
        ok = false;
        metrics.apiKeyReloads.inc({ result: "failed" });
        logger.error(
          { reason: (err as Error).message },
          "API keys not reloaded: the previous keys stay in force",
        );
        messages.push((err as Error).message);
      }
    }
    if (options.tls) {
      try {
        server.reloadTls();
        logger.info({ cert: options.tls.certFile }, "TLS certificate reloaded");
        messages.push("TLS certificate reloaded");
      } catch (err) {
        ok = false;
        logger.error(
          { reason: (err as Error).message },
          "TLS certificate not reloaded: the previous one stays in force",
        );
        messages.push((err as Error).message);
      }
    }
    return { ok, messages };
  };
  const watched = [
    ...(options.apiKeysFile ? [options.apiKeysFile] : []),
    ...(options.tls ? [options.tls.certFile, options.tls.keyFile] : []),
  ];
  const onFileChange = (now: { mtimeMs: number }, before: { mtimeMs: number }) => {
    if (now.mtimeMs !== before.mtimeMs) reload();
  };

  let chainMonitor: { stop(): void } | undefined;
  const startChain = () => {
    const chain = options.chain;
    if (!chain) return;
    chainMonitor = startChainMonitor({
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      intervalMs: chain.checkIntervalMs,
      onCheck: (check) => {
        metrics.chainCheckSeconds.observe({}, check.seconds);
        const wasOk = health.ok("chain");
        health.setProblem("chain", check.ok ? undefined : check.reason);
        if (!check.ok && wasOk)
          logger.error({ reason: check.reason }, "chain RPC down: NOT_SERVING until it answers");
        if (check.ok && !wasOk) logger.warn("chain RPC answering again; SERVING");
        if (check.ok && chain.ledgerBalance) {
          chain.ledgerBalance().then(
            (balance) => {
              if (!balance) return;
              metrics.ledgerBalance.set({ balance: "available" }, Number(formatEther(balance.available)));
              metrics.ledgerBalance.set({ balance: "total" }, Number(formatEther(balance.total)));
            },
            () => {},
          );
        }
      },
    });
  };

  let closing: Promise<void> | undefined;

  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    worker.start();
    remote = publishRemoteChanges({
      store,
      events,
      logger,
      runsHere: (jobId) => worker.runs(jobId),
      onQueued: () => worker.pump(),
    });
    if (retentionMs > 0) {
      retention = startRetention({
        store,
        logger,
        retentionMs,
        onDeleted: (jobs) => metrics.jobsDeleted.inc({}, jobs),
        intervalMs: options.retentionSweep?.intervalMs,
        now: options.retentionSweep?.now,
      });
    }
  };
  return {
    store,
    routes,
    routerOptions: { interceptors, shutdownSignal: shutdown.signal },
    start,
    metrics,
    reload,
    traceparentOf(jobId) {
      const trace = traces.get(jobId);
      return trace ? childTraceparent(trace) : undefined;
    },
    async listen(host, port) {
      start();
      const address = await server.listen(host, port);
      for (const file of watched)
        watchFile(file, { interval: options.fileWatchIntervalMs ?? 2000, persistent: false }, onFileChange);
      startChain();
      logger.info(
        {
          ...address,
          backend: backend.name,
          auth: Boolean(keys),
          keys: keys?.ids,
          tls: Boolean(options.tls),
          store: store.location,
          replicaId,
        },
        "bridge listening",
      );
      return address;
    },
    close({ graceMs = 10_000 } = {}) {
      closing ??= (async () => {
        const deadline = Date.now() + graceMs;
        logger.info({ graceMs }, "bridge stopping");
        health.setNotServing();
        chainMonitor?.stop();
        for (const file of watched) unwatchFile(file, onFileChange);
        server.drain();
        // Jobs get the grace period but a second (half of it, if shorter) to requeue and close the rest.
        await worker.stop(Math.max(graceMs - 1000, graceMs / 2));
        shutdown.abort();
        await server.close(deadline);
        storage.stop();
        remote?.stop();
        await retention?.stop();
        await backend.close();
        await store.close();
        logger.info("bridge stopped");
      })();
      return closing;
    },
  };
}
