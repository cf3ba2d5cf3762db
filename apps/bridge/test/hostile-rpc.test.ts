import http from "node:http";
import type net from "node:net";
import { Health, HealthCheckResponse_ServingStatus, JobState } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Transaction } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BridgeConfig } from "../src/config.js";
import { startCustomBridge, task, waitFor } from "./harness.js";
import { forward } from "./rpc-proxy.js";

// The chain RPC is the operator's choice, often a public one: overloaded, buggy or hostile. It answers
// here through a loopback proxy to the devnet's ganache that tampers with the methods a test names.

type Payload = { id: number; method: string; params: unknown[] };
/** What the RPC does instead of answering a payload: write the whole HTTP answer itself. */
type Tamper = (res: http.ServerResponse, payloads: Payload[]) => void;

/** The contract an eth_call names, lower case. */
const callee = (p: Payload) => String((p.params[0] as { to?: string } | undefined)?.to ?? "").toLowerCase();

/**
 * Forwards to `target`, except the payloads a tamper is set for: by `method@contract` (eth_call to one
 * contract), by method, or "*".
 */
async function hostileRpc(target: string) {
  const tampers = new Map<string, Tamper>();
  const sent: Payload[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const parsed = JSON.parse(body.toString()) as Payload | Payload[];
      const payloads = Array.isArray(parsed) ? parsed : [parsed];
      sent.push(...payloads);
      const tamper = payloads
        .map((p) => tampers.get(`${p.method}@${callee(p)}`) ?? tampers.get(p.method) ?? tampers.get("*"))
        .find(Boolean);
      if (tamper) return tamper(res, payloads);
      forward(target, "POST", req.headers, res).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v3/rpc-secret-7d2e`,
    tampers,
    sent,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const answer = (res: http.ServerResponse, payloads: Payload[], each: (p: Payload) => unknown) => {
  const body = payloads.map((p) => ({ jsonrpc: "2.0", id: p.id, ...(each(p) as object) }));
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body.length === 1 ? body[0] : body));
};

let devnet: Devnet;
let rpc: Awaited<ReturnType<typeof hostileRpc>>;
beforeAll(async () => {
  devnet = await startDevnet({ providers: [{ model: "llama-3-8b" }] });
  rpc = await hostileRpc(devnet.rpcUrl);
}, 120_000);
afterAll(async () => {
  await rpc?.close();
  await devnet?.close();
});

/** The tamper key of reads of the ledger contract: a fresh wallet's first job reads its ledger. */
const ledgerCall = () => `eth_call@${devnet.contracts.ledger.toLowerCase()}`;

async function bridgeOnRpc(overrides: Partial<BridgeConfig> = {}) {
  const bridge = await startCustomBridge(devnet, { rpcUrl: rpc.url, chainCheckSeconds: 1, ...overrides });
  const health = createClient(
    Health,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${bridge.running.address.port}` }),
  );
  const status = async () => {
    let notServing = "";
    const r = await health.check(
      {},
      { timeoutMs: 5000, onHeader: (h) => (notServing = h.get("zerog-not-serving") ?? "") },
    );
    return { serving: r.status === HealthCheckResponse_ServingStatus.SERVING, notServing };
  };
  const run = async (prompt: string) => {
    const { jobId } = await bridge.client.submit(
      { task: task({ inputs: { prompt } }) },
      { timeoutMs: 20_000 },
    );
    await bridge.client
      .getResult({ jobId, wait: true, timeoutSeconds: 60 }, { timeoutMs: 70_000 })
      .catch(() => {});
    return bridge.client.getJob({ jobId });
  };
  // A Submit for a model nobody serves reads the service registry (kept 60 s) and nothing else.
  await bridge.client.submit({ task: task({ model: "no-such-model" }) }).catch(() => {});
  /** Waits (20 s at most) for health NOT_SERVING; its reason. */
  const notServing = () =>
    waitFor(
      async () => {
        const s = await status();
        return !s.serving && s.notServing;
      },
      { timeoutMs: 20_000, what: "NOT_SERVING" },
    );
  return { ...bridge, status, run, notServing };
}

describe("a hostile chain RPC", () => {
  it("answering eth_call without end: the job fails once 32 MiB are read, the bridge stays up and serves", async () => {
    const b = await bridgeOnRpc();
    /** Bytes written into each endless answer before the bridge hung up. */
    const answers: number[] = [];
    rpc.tampers.set(ledgerCall(), (res, [p]) => {
      const n = answers.push(0) - 1;
      res.setHeader("content-type", "application/json");
      res.write(`{"jsonrpc":"2.0","id":${p!.id},"result":"0x`);
      const chunk = Buffer.alloc(1 << 20, "0");
      const pump = () => {
        while (!res.destroyed && answers[n]! < 1 << 30) {
          answers[n]! += chunk.length;
          if (!res.write(chunk)) return res.once("drain", pump);
        }
      };
      pump();
    });
    try {
      const failed = await b.run("the ledger read answered without end");
      expect(failed.state).toBe(JobState.FAILED);
      // What the RPC got to write into each answer before the bridge hung up: the bound plus socket
      // buffers, never the 1 GiB it offered.
      expect(answers.length).toBeGreaterThan(0);
      for (const bytes of answers) expect(bytes).toBeLessThan(48 << 20);
      expect(failed.error?.message).toMatch(/answered more than 33554432 bytes; the bridge refuses it/);
      rpc.tampers.clear();
      expect((await b.status()).serving).toBe(true);
      expect((await b.run("after")).state).toBe(JobState.SUCCEEDED);
    } finally {
      rpc.tampers.clear();
      await b.running.stop();
    }
  });

  it("answering 2 MiB to a bridge started with --rpc-max-bytes of 1 MiB: the job fails naming that bound", async () => {
    const b = await bridgeOnRpc({ rpcMaxBytes: 1 << 20 });
    rpc.tampers.set(ledgerCall(), (res, payloads) =>
      answer(res, payloads, () => ({ result: `0x${"0".repeat(2 << 20)}` })),
    );
    try {
      const failed = await b.run("an answer over the bound set");
      expect(failed.state).toBe(JobState.FAILED);
      expect(failed.error?.message).toMatch(/answered more than 1048576 bytes; the bridge refuses it/);
    } finally {
      rpc.tampers.clear();
      await b.running.stop();
    }
  });

  it("dripping its answers: health turns NOT_SERVING with the reason, Submits are still answered", async () => {
    const b = await bridgeOnRpc();
    try {
      expect((await b.run("before the drip")).state).toBe(JobState.SUCCEEDED);
      const drips = new Set<NodeJS.Timeout>();
      rpc.tampers.set("*", (res, [p]) => {
        const text = JSON.stringify({ jsonrpc: "2.0", id: p!.id, result: "0x1" });
        let i = 0;
        const timer = setInterval(() => (i < text.length ? res.write(text[i++]!) : res.end()), 1000);
        drips.add(timer);
        res.on("close", () => clearInterval(timer));
      });
      const down = await b.notServing();
      expect(down).toMatch(
        /^the 0G chain RPC at http:\/\/127\.0\.0\.1:\d+ is not answering \(no answer within 1000 ms\)$/,
      );
      // The registry last read still takes Submits.
      const { jobId } = await b.client.submit(
        { task: task({ inputs: { prompt: "during the drip" } }) },
        { timeoutMs: 5000 },
      );
      expect(jobId).toBeTruthy();
      rpc.tampers.clear();
      for (const t of drips) clearInterval(t);
      await waitFor(async () => (await b.status()).serving, { timeoutMs: 20_000, what: "SERVING again" });
    } finally {
      rpc.tampers.clear();
      await b.running.stop();
    }
  });

  it("answering another chain id after start: health says so, and every transaction is still signed for the chain it started on", async () => {
    const chainId = (await devnet.chain.provider.getNetwork()).chainId;
    const b = await bridgeOnRpc();
    try {
      await waitFor(async () => (await b.status()).serving, { what: "SERVING" });
      rpc.tampers.set("eth_chainId", (res, payloads) => answer(res, payloads, () => ({ result: "0x1" })));
      const down = await b.notServing();
      expect(down).toContain(`answers chain id 1, not ${chainId} it answered at start`);
      const before = rpc.sent.length;
      // A fresh wallet: its first job creates the ledger and funds the provider (transactions).
      const job = await b.run("signed for which chain?");
      expect(job.state).toBe(JobState.SUCCEEDED);
      const raws = rpc.sent.slice(before).filter((p) => p.method === "eth_sendRawTransaction");
      expect(raws.length).toBeGreaterThan(0);
      for (const p of raws) expect(Transaction.from(p.params[0] as string).chainId).toBe(chainId);
    } finally {
      rpc.tampers.clear();
      await b.running.stop();
    }
  });

  it("answering another chain id from the health check's first read on: NOT_SERVING (the bridge signs for the chain read at start)", async () => {
    const chainId = (await devnet.chain.provider.getNetwork()).chainId;
    // The start's read answers the devnet's chain; every later one (the chain monitor's), chain 1.
    let reads = 0;
    rpc.tampers.set("eth_chainId", (res, payloads) =>
      answer(res, payloads, () => ({ result: reads++ === 0 ? `0x${chainId.toString(16)}` : "0x1" })),
    );
    const b = await bridgeOnRpc();
    try {
      const down = await b.notServing();
      expect(down).toContain(`answers chain id 1, not ${chainId} it answered at start`);
      expect(reads).toBeGreaterThan(1);
    } finally {
      rpc.tampers.clear();
      await b.running.stop();
    }
  });

  it("answering malformed JSON-RPC: no crash, and the RPC's error text is bounded and escaped in the job's message", async () => {
    const evil = `\u001b[2J\r\nERROR forged ${"x".repeat(200_000)}`;
    const b = await bridgeOnRpc();
    try {
      const evilError: Tamper = (res, p) =>
        answer(res, p, () => ({ error: { code: -32000, message: evil } }));
      for (const [key, tamper] of [
        [ledgerCall(), (res) => res.end("<html>502 Bad Gateway</html>")],
        [ledgerCall(), evilError],
        [ledgerCall(), (res, p) => answer(res, p, () => ({ result: { not: "hex" } }))],
        [ledgerCall(), (res) => res.end("null")],
        // A fresh wallet's first job creates its ledger: the RPC refuses the transaction, in its words.
        ["eth_sendRawTransaction", evilError],
        ["eth_getTransactionCount", evilError],
      ] satisfies [string, Tamper][]) {
        rpc.tampers.clear();
        rpc.tampers.set(key, tamper);
        const job = await b.run("malformed");
        expect(job.state).toBe(JobState.FAILED);
        const message = job.error?.message ?? "";
        expect(message.length).toBeLessThan(2000);
        expect([...message].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
        expect(message).not.toContain("rpc-secret");
      }
      rpc.tampers.clear();
      expect((await b.run("after")).state).toBe(JobState.SUCCEEDED);
    } finally {
      rpc.tampers.clear();
      await b.running.stop();
    }
  });
});
