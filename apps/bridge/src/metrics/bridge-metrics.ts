import { readdirSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Registry } from "./registry.js";

/** Every metric the bridge exports at `GET /metrics`; see the README's "Metrics". */
export function createBridgeMetrics() {
  const registry = new Registry();
  const metrics = {
    registry,
    calls: registry.counter<"method" | "code" | "key">(
      "zerog_rpc_calls_total",
      "RPCs answered, by method, gRPC code (ok for success) and API key id (empty before authentication).",
    ),
    callSeconds: registry.histogram<"method">(
      "zerog_rpc_duration_seconds",
      "Time to answer an RPC (to the end of the stream for WatchJob), seconds.",
    ),
    jobs: registry.gauge<"state">("zerog_jobs", "Jobs in the job store, by state."),
    jobsEnded: registry.counter<"state" | "reason">(
      "zerog_jobs_ended_total",
      "Jobs that ended since start, by final state and failure reason.",
    ),
    jobsDeleted: registry.counter(
      "zerog_jobs_deleted_total",
      "Ended jobs deleted with their results by the job retention (--job-retention) since start.",
    ),
    stageSeconds: registry.histogram<"stage">(
      "zerog_job_stage_seconds",
      "Time jobs spent in each stage: queued, running, and within a run admission (the provider's quote checked), provider_request, proof_fetch, verification (and the provider's own stages for fine-tuning), seconds.",
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200],
    ),
    providerErrors: registry.counter<"reason">(
      "zerog_provider_errors_total",
      "Failed calls to 0G providers (each retry and failover counts), by failure reason.",
    ),
    ledgerBalance: registry.gauge<"balance">(
      "zerog_ledger_balance_0g",
      "The wallet's 0G compute ledger, in 0G: available and total, as last read from the chain.",
    ),
    storeSeconds: registry.histogram<"operation">(
      "zerog_store_operation_seconds",
      "Job store operations (durable: the wait for the group commit), seconds.",
      [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ),
    connections: registry.gauge<"protocol">(
      "zerog_connections",
      "Client connections open, by protocol (h1, h2, unknown: not sniffed yet, refused: over --max-connections).",
    ),
    connectionsAccepted: registry.counter("zerog_connections_accepted_total", "Client connections accepted."),
    connectionsRefused: registry.counter(
      "zerog_connections_refused_total",
      "Client connections refused over --max-connections.",
    ),
    rateLimited: registry.counter<"key">(
      "zerog_rate_limited_total",
      "Calls refused by the rate limit, by API key id.",
    ),
    quotaExceeded: registry.counter<"key">(
      "zerog_quota_exceeded_total",
      "Submits refused at the in-flight jobs quota, by API key id.",
    ),
    jobsInFlight: registry.gauge<"key">(
      "zerog_jobs_in_flight",
      "Jobs queued or running by the API key id that submitted them, on any bridge sharing the store (what the quota counts).",
    ),
    apiKeys: registry.gauge("zerog_api_keys", "API keys in force."),
    apiKeyReloads: registry.counter<"result">(
      "zerog_api_key_reloads_total",
      "Reloads of the API keys file (SIGHUP or change), by result (ok, failed: the previous keys stay).",
    ),
    serving: registry.gauge<"component">(
      "zerog_health_serving",
      "1 while a component lets the bridge serve, else 0: store (writable), chain (RPC answering), shutdown (not stopping).",
    ),
    chainCheckSeconds: registry.histogram(
      "zerog_chain_check_seconds",
      "Time of the periodic chain RPC check (eth_blockNumber), seconds.",
    ),
  };
  processMetrics(registry);
  return metrics;
}

export type BridgeMetrics = ReturnType<typeof createBridgeMetrics>;

function processMetrics(registry: Registry): void {
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const heap = registry.gauge("nodejs_heap_used_bytes", "V8 heap used, bytes.");
  const cpu = registry.counter("process_cpu_seconds_total", "User and system CPU time spent, seconds.");
  const start = registry.gauge("process_start_time_seconds", "Start time of the process, unix seconds.");
  const fds = registry.gauge("process_open_fds", "Open file descriptors.");
  const lag = registry.gauge<"quantile">(
    "nodejs_eventloop_delay_seconds",
    "Event loop delay since the previous scrape, by quantile (0.5, 0.99, 1 = max), seconds.",
  );
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  start.set({}, Math.round(Date.now() / 1000 - process.uptime()));
  registry.collect(() => {
    const memory = process.memoryUsage();
    rss.set({}, memory.rss);
    heap.set({}, memory.heapUsed);
    const usage = process.cpuUsage();
    cpu.setTotal({}, (usage.user + usage.system) / 1e6);
    try {
      fds.set({}, readdirSync("/proc/self/fd").length);
    } catch {}
    lag.set({ quantile: "0.5" }, delay.percentile(50) / 1e9);
    lag.set({ quantile: "0.99" }, delay.percentile(99) / 1e9);
    lag.set({ quantile: "1" }, delay.max / 1e9);
    delay.reset();
  });
}
