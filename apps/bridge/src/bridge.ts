import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import { ComputeService, Health } from "@chaoschain/zerog-core";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { ComputeBackend } from "./backend.js";
import { createHealthService, HealthState } from "./health.js";
import type { CorsOrigins } from "./http/gate.js";
import { createAuthInterceptor } from "./interceptors/auth.js";
import { createErrorInterceptor } from "./interceptors/errors.js";
import { createLoggingInterceptor } from "./interceptors/logging.js";
import { JobEvents } from "./jobs/job-events.js";
import type { JobStore } from "./jobs/job-store.js";
import { publishRemoteChanges } from "./jobs/remote-jobs.js";
import { SqliteJobStore } from "./jobs/sqlite-store.js";
import type { StorageError } from "./jobs/storage-error.js";
import { Worker } from "./jobs/worker.js";
import { createHttpServer, type ServerLimits } from "./server.js";
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
  /** This bridge's name in the leases it takes. Default `<host>-<pid>-<random>`. */
  replicaId?: string | undefined;
  /** Required bearer key; undefined serves without authentication. */
  apiKey?: string | undefined;
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
      health.setStorageProblem(problem?.message);
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

/** Wires store, worker, services, interceptors and the HTTP server; nothing listens until `listen`. */
export function createBridge(options: BridgeOptions): Bridge {
  const { backend, logger } = options;
  const events = new JobEvents();
  const health = new HealthState();
  const store = options.store ?? new SqliteJobStore(options.dbPath ?? ":memory:");
  const storage = watchStorage(health, logger, store, () => worker.resume());
  store.attach({
    onChange: (change) => events.publish(change),
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
  const shutdown = new AbortController();
  // Every call in flight listens to it (Connect links each call's signal to it): no listener limit.
  setMaxListeners(0, shutdown.signal);
  const routes = (router: ConnectRouter) => {
    router.service(
      ComputeService,
      createComputeService({
        store,
        events,
        worker,
        backend,
        defaultWaitSeconds: options.defaultWaitSeconds ?? 60,
        maxWaitSeconds: options.maxWaitSeconds ?? 3600,
      }),
    );
    router.service(Health, createHealthService(health));
  };
  if (!options.apiKey) logger.warn("no API key configured (ZEROG_API_KEY): the bridge accepts every caller");
  const interceptors = [
    createLoggingInterceptor(logger),
    createErrorInterceptor(logger),
    ...(options.apiKey ? [createAuthInterceptor(options.apiKey)] : []),
  ];
  const server = createHttpServer({
    routes,
    interceptors,
    shutdownSignal: shutdown.signal,
    logger,
    limits: options.limits,
    apiKey: options.apiKey,
    corsOrigins: options.corsOrigins ?? (options.apiKey ? "*" : []),
    allowedHosts: options.allowedHosts,
  });
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
  };
  return {
    store,
    routes,
    routerOptions: { interceptors, shutdownSignal: shutdown.signal },
    start,
    async listen(host, port) {
      start();
      const address = await server.listen(host, port);
      logger.info(
        {
          ...address,
          backend: backend.name,
          auth: Boolean(options.apiKey),
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
        server.drain();
        // Jobs get the grace period but a second (half of it, if shorter) to requeue and close the rest.
        await worker.stop(Math.max(graceMs - 1000, graceMs / 2));
        shutdown.abort();
        await server.close(deadline);
        storage.stop();
        remote?.stop();
        await backend.close();
        await store.close();
        logger.info("bridge stopped");
      })();
      return closing;
    },
  };
}
