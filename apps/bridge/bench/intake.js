// Intake and responsiveness of a running bridge process: Submits over Connect JSON (HTTP/1.1
// keep-alive, as curl, fetch and most non-gRPC clients call it), and health checks, alone and while
// 1,000 slow clients hold connections open (half dripping a request head, half a request body).

import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";

/** CPU time (ms) process `pid` has used so far, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, 100 Hz ticks
  } catch {
    return Number.NaN;
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** POSTs `body` (JSON) to `path` on a keep-alive agent; resolves with the status. */
function post(agent, port, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        agent,
        host: "127.0.0.1",
        port,
        method: "POST",
        path,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * `count` calls, at most `inFlight` at once: calls/s, p50, p99 (ms), calls not answered 200, and the
 * CPU the bridge process (`pid`) spent per call.
 */
async function load(count, inFlight, call, pid) {
  const cpuBefore = cpuMs(pid);
  const latencies = [];
  let failed = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const status = await call(i).catch(() => 0);
        latencies.push(performance.now() - t0);
        if (status !== 200) failed++;
      }
    }),
  );
  const wallMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return {
    count,
    inFlight,
    perSec: (count / wallMs) * 1000,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    failed,
    cpuPerCall: (cpuMs(pid) - cpuBefore) / count,
  };
}

/**
 * Opens `count` slow clients: half send a request head one byte a second, half a complete head and
 * then its body one byte a second. Returns how many are still open, and a close function.
 */
async function slowClients(port, count) {
  const sockets = [];
  let closedByBridge = 0;
  for (let i = 0; i < count; i++) {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.on("close", () => closedByBridge++);
    await new Promise((resolve) => socket.once("connect", resolve));
    const head = `POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n`;
    socket.write(i % 2 === 0 ? head : `${head}content-length: 1000\r\n\r\n`);
    sockets.push(socket);
  }
  const drip = setInterval(() => {
    for (const [i, s] of sockets.entries()) if (!s.destroyed) s.write(i % 2 === 0 ? "x" : " ");
  }, 1000);
  return {
    open: () => sockets.length - closedByBridge,
    close() {
      clearInterval(drip);
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * Durable Submits (Connect JSON, `inFlight` at once) to the bridge on `port` (process `pid`), after a
 * warm-up: one results row. Each answer means the job is stored durably.
 */
export async function measureSubmits({ port, pid, submits = 10_000, inFlight = 64, warmUp = 2000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  try {
    const submit = submitter(agent, port);
    if (warmUp) await load(warmUp, inFlight, submit, pid);
    return { load: "Submit", ...(await load(submits, inFlight, submit, pid)) };
  } finally {
    agent.destroy();
  }
}

/** A Submit of intake job `i` over `agent`. */
function submitter(agent, port) {
  return (i) =>
    post(
      agent,
      port,
      "/chaoschain.zerog.v1.ComputeService/Submit",
      JSON.stringify({
        task: {
          task_type: "TASK_TYPE_INFERENCE",
          model: "llama-3-8b",
          inputs: { prompt: `Intake benchmark prompt number ${i}: what is a TEE?` },
          verification: "VERIFICATION_METHOD_TEE_ML",
        },
      }),
    );
}

/**
 * Measures a bridge listening on `port` (its providers must not answer during the run, so that jobs
 * stay queued: this measures intake, not job execution). Returns the rows of the results table.
 */
export async function measureIntake({
  port,
  pid,
  submits = 10_000,
  inFlight = 64,
  slow = 1000,
  healthChecks = 1000,
}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  const submit = submitter(agent, port);
  const health = () => post(agent, port, "/grpc.health.v1.Health/Check", "{}");
  await load(2000, inFlight, submit, pid); // warm-up: JIT, connections
  const rows = [];
  rows.push({ load: "Submit", ...(await load(submits, inFlight, submit, pid)) });
  rows.push({ load: "health check", ...(await load(healthChecks, 1, health, pid)) });
  const clients = await slowClients(port, slow);
  try {
    const slowHealth = await load(healthChecks, 1, health, pid);
    rows.push({ load: `health check, ${slow} slow clients connected`, ...slowHealth, open: clients.open() });
    const slowSubmit = await load(submits, inFlight, submit, pid);
    rows.push({ load: `Submit, ${slow} slow clients connected`, ...slowSubmit, open: clients.open() });
  } finally {
    clients.close();
    agent.destroy();
  }
  return rows;
}
