import net from "node:net";
import tls from "node:tls";

const preface = Buffer.concat([
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), // an empty SETTINGS frame
]);

/** What the server at an address turned out to speak. */
export type ProbeFinding =
  | "http2"
  | "http1-only"
  | "tls"
  | "tls-without-h2"
  | "plaintext"
  | "silent"
  | "closed"
  | "unreachable"
  | "other";

function first(socket: net.Socket, timeoutMs: number): Promise<{ bytes: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.removeAllListeners("data");
      socket.destroy();
      resolve({ bytes: Buffer.concat(chunks), closed });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size >= 16) done(false);
    });
    socket.on("close", () => done(true));
    socket.on("error", () => done(true));
  });
}

function tlsHandshake(host: string, port: number, timeoutMs: number): Promise<string | false | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host,
      port,
      servername: net.isIP(host) ? undefined : host,
      ALPNProtocols: ["h2", "http/1.1"],
      // Only asks whether the server speaks TLS at all; nothing is sent or trusted.
      rejectUnauthorized: false,
    });
    const done = (v: string | false | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on("secureConnect", () => done(socket.alpnProtocol || ""));
    socket.on("error", () => done(false));
  });
}

/**
 * Looks at what the server at `baseUrl` speaks, after a call failed below gRPC: one connection
 * writes the HTTP/2 preface (plaintext) or makes a TLS handshake (https), reads at most a few
 * bytes and closes, within `timeoutMs` per step. Never sends a request or any credential.
 */
export async function probe(baseUrl: string, timeoutMs = 2000): Promise<ProbeFinding> {
  const url = new URL(baseUrl);
  const secure = url.protocol === "https:";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (secure ? 443 : 80));
  if (secure) {
    const alpn = await tlsHandshake(host, port, timeoutMs);
    if (alpn === false) return "plaintext";
    if (alpn === undefined) return "silent";
    return alpn === "h2" ? "http2" : "tls-without-h2";
  }
  const socket = net.connect({ host, port });
  const reachable = await new Promise<boolean>((resolve) => {
    socket.once("connect", () => resolve(true));
    socket.once("error", () => resolve(false));
  });
  if (!reachable) return "unreachable";
  socket.write(preface);
  const { bytes, closed } = await first(socket, timeoutMs);
  if (bytes.length === 0) {
    // A TLS server drops a plaintext preface without a word; ask it for a handshake.
    const alpn = await tlsHandshake(host, port, timeoutMs);
    if (typeof alpn === "string") return "tls";
    return closed ? "closed" : "silent";
  }
  if (bytes.subarray(0, 5).toString("latin1") === "HTTP/") return "http1-only";
  if ((bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03) return "tls";
  if (bytes.length >= 9 && bytes[3] === 0x04) return "http2";
  return "other";
}

/** A sentence naming what the probe found, with what to do; undefined when it found nothing amiss. */
export function describeFinding(finding: ProbeFinding, baseUrl: string): string | undefined {
  const https = baseUrl.replace(/^http:/, "https:");
  const http = baseUrl.replace(/^https:/, "http:");
  switch (finding) {
    case "http1-only":
      return `the server at ${baseUrl} speaks HTTP/1.1 only, so it is not the bridge (which speaks gRPC over HTTP/2 on its port)`;
    case "tls":
      return `the server at ${baseUrl} speaks TLS: use ${https} (grpcs://) in ZEROG_GRPC_URL`;
    case "plaintext":
      return `the server at ${baseUrl} does not speak TLS: use ${http} (or host:port) in ZEROG_GRPC_URL`;
    case "tls-without-h2":
      return `the server at ${baseUrl} speaks TLS but not HTTP/2 (ALPN), so it is not the bridge`;
    case "silent":
      return `the server at ${baseUrl} accepts connections but does not answer HTTP/2: it is not the bridge`;
    case "closed":
      return `the server at ${baseUrl} closes connections without answering: it is not the bridge, or it is stopping`;
    case "other":
      return `the server at ${baseUrl} answered something that is not HTTP/2: it is not the bridge`;
    case "unreachable":
      return `nothing answers at ${baseUrl} any more`;
    case "http2":
      return undefined;
  }
}
