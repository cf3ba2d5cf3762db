import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { endDiscardingBody } from "./discard-body.js";

const limits = { maxBytes: 64 * 1024, timeoutMs: 1000 };
let server: http.Server | undefined;
afterEach(() => server?.close());

/** A server answering 401 to every request without reading its body; resolves with its port and what its sockets read. */
async function refusingServer() {
  const sockets: net.Socket[] = [];
  server = http.createServer((req, res) => {
    res.writeHead(401, { connection: "close", "content-length": "2" });
    res.write("no");
    endDiscardingBody(req, res, req.headers.expect === undefined, limits);
  });
  // No 100 Continue: the request goes to the handler as it is.
  server.on("checkContinue", (req, res) => server!.emit("request", req, res));
  server.on("connection", (socket: net.Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const bytesRead = () => sockets.reduce((sum, s) => sum + s.bytesRead, 0);
  return { port: (server.address() as net.AddressInfo).port, bytesRead };
}

/** Writes `head`, then `body` (a chunk written again and again when `repeat`) until the server closes. */
async function send(port: number, head: string, body: string, repeat: boolean) {
  const socket = net.connect(port, "127.0.0.1");
  let received = "";
  let ended = false;
  socket.setEncoding("utf8").on("data", (s: string) => {
    received += s;
  });
  socket.on("end", () => {
    ended = true;
  });
  const error = new Promise<string | undefined>((resolve) => {
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code));
    socket.once("close", () => resolve(undefined));
  });
  const opened = performance.now();
  socket.write(head);
  do {
    if (!socket.write(body))
      await new Promise((resolve) => socket.once("drain", resolve).once("close", resolve));
  } while (repeat && !socket.destroyed);
  const code = await error;
  return { received, ended, code, ms: performance.now() - opened };
}

describe("endDiscardingBody", () => {
  it("reads a small body to its end, then closes cleanly (FIN, no reset)", async () => {
    const { port, bytesRead } = await refusingServer();
    const body = "x".repeat(20_000);
    const head = `POST / HTTP/1.1\r\nHost: a\r\ncontent-length: ${body.length}\r\n\r\n`;
    const sent = await send(port, head, body, false);
    expect(sent.received).toMatch(/^HTTP\/1\.1 401 [\s\S]*\r\n\r\nno$/);
    expect(sent.ended).toBe(true);
    expect(sent.code).toBeUndefined();
    expect(bytesRead()).toBe(head.length + body.length);
    expect(sent.ms).toBeLessThan(limits.timeoutMs);
  });

  it("an endless chunked body: read no further than the bound, the connection cut at the time bound", async () => {
    const { port, bytesRead } = await refusingServer();
    const chunk = `${(16 * 1024).toString(16)}\r\n${"x".repeat(16 * 1024)}\r\n`;
    const head = "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n";
    const sent = await send(port, head, chunk, true);
    expect(sent.received).toMatch(/^HTTP\/1\.1 401 [\s\S]*\r\n\r\nno$/);
    expect(sent.ms).toBeGreaterThanOrEqual(limits.timeoutMs - 50);
    // The bound, plus what node reads ahead of a paused request (a read of 64 KiB and a stream buffer).
    expect(bytesRead()).toBeLessThan(limits.maxBytes + 256 * 1024);
  });

  it("a declared Content-Length over the bound: the same bound", async () => {
    const { port, bytesRead } = await refusingServer();
    const head = `POST / HTTP/1.1\r\nHost: a\r\ncontent-length: ${1024 ** 3}\r\n\r\n`;
    const sent = await send(port, head, "x".repeat(16 * 1024), true);
    expect(sent.received).toMatch(/^HTTP\/1\.1 401 /);
    expect(bytesRead()).toBeLessThan(limits.maxBytes + 256 * 1024);
  });

  it("a client waiting for 100 Continue sends no body: closed at once", async () => {
    const { port } = await refusingServer();
    const head = "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 10\r\nexpect: 100-continue\r\n\r\n";
    const sent = await send(port, head, "", false);
    expect(sent.received).toMatch(/^HTTP\/1\.1 401 /);
    expect(sent.ms).toBeLessThan(limits.timeoutMs / 2);
  });
});
