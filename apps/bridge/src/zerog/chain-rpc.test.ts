import http from "node:http";
import type net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectingGarbage } from "../../test/garbage.js";
import { BoundedJsonRpcProvider, rpcCall } from "./chain-rpc.js";

/** A loopback JSON-RPC endpoint whose answer each test sets: `answer(req, res, body)`. */
type Answer = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: { id: number; method: string },
) => void;
let answer: Answer;
let written = 0;
let server: http.Server;
let url: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      answer(req, res, Array.isArray(body) ? body[0] : body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v3/secret-key`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const limits = { timeoutMs: 1000, maxResponseBytes: 1024 * 1024 };
const provider = () => new BoundedJsonRpcProvider(url, 16602n, limits);
const json = (res: http.ServerResponse, value: unknown) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(value));
};

/** Writes `0`s without end (chunked) until the client goes away; counts what was written. */
function endless(res: http.ServerResponse, head: string) {
  written = 0;
  res.setHeader("content-type", "application/json");
  res.write(head);
  const chunk = Buffer.alloc(64 * 1024, "0");
  const pump = () => {
    while (!res.destroyed) {
      written += chunk.length;
      if (!res.write(chunk)) return res.once("drain", pump);
    }
  };
  res.on("close", () => res.removeAllListeners("drain"));
  pump();
}

describe("BoundedJsonRpcProvider against a hostile RPC", () => {
  it("refuses an endless answer once it passes the bound, reading no more of it", async () => {
    answer = (_req, res, { id }) => endless(res, `{"jsonrpc":"2.0","id":${id},"result":"0x`);
    const err = await provider()
      .call({ to: "0x0000000000000000000000000000000000000001", data: "0x" })
      .catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /^the 0G chain RPC at http:\/\/127\.0\.0\.1:\d+ answered more than 1048576 bytes; the bridge refuses it/,
    );
    expect((err as Error).message).not.toContain("secret-key");
    // The socket was closed: what the server could still push is bounded by socket buffers.
    expect(written).toBeLessThan(16 * limits.maxResponseBytes);
  });

  it("refuses an answer whose Content-Length is over the bound without reading it", async () => {
    answer = (_req, res) => {
      res.writeHead(200, { "content-length": String(2 * limits.maxResponseBytes) });
      res.write("{");
    };
    await expect(provider().getBlockNumber()).rejects.toThrow(/answered more than 1048576 bytes/);
  });

  it("fails a call answered a byte a second at its deadline, the whole exchange counted", async () => {
    answer = (_req, res, { id }) => {
      const text = JSON.stringify({ jsonrpc: "2.0", id, result: "0x1" });
      let i = 0;
      res.setHeader("content-type", "application/json");
      const timer = setInterval(() => (i < text.length ? res.write(text[i++]) : res.end()), 200);
      res.on("close", () => clearInterval(timer));
    };
    const started = performance.now();
    const err = await provider()
      .getBlockNumber()
      .catch((e: Error & { code?: string }) => e);
    expect((err as Error).message).toMatch(/is not answering \(no answer within 1000 ms\)/);
    expect((err as { code?: string }).code).toBe("TIMEOUT");
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it("fails a call answered a byte every 20 ms at its deadline, even after a garbage collection", async () => {
    answer = (_req, res, { id }) => {
      const text = `${JSON.stringify({ jsonrpc: "2.0", id, result: "0x1" })}${" ".repeat(100)}`;
      let i = 0;
      res.setHeader("content-type", "application/json");
      const timer = setInterval(() => (i < text.length ? res.write(text[i++]) : res.end()), 20);
      res.on("close", () => clearInterval(timer));
    };
    const call = rpcCall(url, "eth_blockNumber", { ...limits, timeoutMs: 300 });
    await expect(collectingGarbage(call)).rejects.toThrow(/no answer within 300 ms/);
  });

  it("fails a call never answered at its deadline", async () => {
    answer = () => {};
    await expect(provider().getBlockNumber()).rejects.toThrow(/no answer within 1000 ms/);
  });

  it("does not wait out a 429's Retry-After (ethers reads it as ms, up to 12 times)", async () => {
    answer = (_req, res) => {
      res.writeHead(429, { "retry-after": "999999999" });
      res.end();
    };
    await expect(provider().getBlockNumber()).rejects.toThrow(/429/);
  });

  it("refuses a redirect: the RPC does not get to send the bridge's requests elsewhere", async () => {
    answer = (_req, res) => {
      res.writeHead(307, { location: "http://127.0.0.1:9/" });
      res.end();
    };
    await expect(provider().getBlockNumber()).rejects.toThrow(/answered with a redirect/);
  });

  const malformed: [string, (res: http.ServerResponse, id: number) => void][] = [
    ["not JSON", (res) => res.end("<html>bad gateway</html>")],
    ["JSON null", (res) => json(res, null)],
    ["a number", (res) => json(res, 42)],
    ["an array of strings", (res) => json(res, ["x"])],
    ["another id", (res) => json(res, { jsonrpc: "2.0", id: 999, result: "0x1" })],
    ["error: null", (res, id) => json(res, { jsonrpc: "2.0", id, error: null })],
    ["error: a string", (res, id) => json(res, { jsonrpc: "2.0", id, error: "boom" })],
    ["a result of the wrong type", (res, id) => json(res, { jsonrpc: "2.0", id, result: { a: [1] } })],
  ];
  for (const [name, send] of malformed) {
    it(`rejects (no crash, no unhandled rejection) an answer that is ${name}`, async () => {
      answer = (_req, res, { id }) => send(res, id);
      const err = await provider()
        .getBlockNumber()
        .catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message.length).toBeLessThanOrEqual(501);
    });
  }

  it("quotes an RPC error's huge, control-character message bounded and escaped", async () => {
    const message = `\u001b[31mevil\r\nINFO forged log line ${"x".repeat(500_000)}`;
    answer = (_req, res, { id }) => json(res, { jsonrpc: "2.0", id, error: { code: -32000, message } });
    const err = await provider()
      .send("eth_blockNumber", [])
      .catch((e: Error) => e);
    const text = (err as Error).message;
    expect(text.length).toBeLessThanOrEqual(501);
    expect([...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)).toBe(false);
    expect(JSON.stringify((err as { error?: unknown }).error).length).toBeLessThan(2000);
  });

  it("keeps a revert's data bounded: a huge revert reason is dropped, not decoded whole", async () => {
    const data = `0x08c379a0${"00".repeat(200_000)}`;
    answer = (_req, res, { id }) =>
      json(res, { jsonrpc: "2.0", id, error: { code: 3, message: "execution reverted", data } });
    const err = await provider()
      .call({ to: "0x0000000000000000000000000000000000000001", data: "0x" })
      .catch((e: Error & { code?: string }) => e);
    expect((err as { code?: string }).code).toBe("CALL_EXCEPTION");
    expect((err as Error).message.length).toBeLessThanOrEqual(501);
  });
});

describe("rpcCall (start-up and health checks)", () => {
  it("names the RPC's origin only and quotes its error bounded", async () => {
    answer = (_req, res, { id }) =>
      json(res, { jsonrpc: "2.0", id, error: { code: -32000, message: `\u0000${"y".repeat(100_000)}` } });
    const err = await rpcCall(url, "eth_chainId", limits).catch((e: Error) => e);
    const text = (err as Error).message;
    expect(text).toMatch(
      /^the 0G chain RPC at http:\/\/127\.0\.0\.1:\d+ answered eth_chainId with HTTP 200: "\\\\u0000y+…"$/,
    );
    expect(text.length).toBeLessThan(700);
  });

  it("sends a URL's user:password@ as Basic authorization, to rpcCall and to ethers alike, and names neither", async () => {
    const seen: Array<string | undefined> = [];
    answer = (req, res, { id }) => {
      seen.push(req.headers.authorization);
      json(res, { jsonrpc: "2.0", id, result: "0x40da" });
    };
    const withCredentials = new URL(url);
    withCredentials.username = "rpc-user";
    withCredentials.password = "p@ss:word/";
    expect(await rpcCall(withCredentials.href, "eth_chainId", limits)).toBe("0x40da");
    const chain = new BoundedJsonRpcProvider(withCredentials.href, 16602n, limits);
    expect(await chain.send("eth_chainId", [])).toBe("0x40da");
    const basic = `Basic ${Buffer.from("rpc-user:p@ss:word/").toString("base64")}`;
    expect(seen).toEqual([basic, basic]);
    answer = (_req, res) => {
      res.statusCode = 500;
      res.end();
    };
    const err = await rpcCall(withCredentials.href, "eth_chainId", limits).catch((e: Error) => e);
    expect((err as Error).message).not.toMatch(/rpc-user|p%40ss|p@ss/);
  });
});
