import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FailureReason } from "@chaoschain/zerog-core";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../backend.js";
import {
  fetchAttestation,
  fetchSignature,
  type HttpCallOptions,
  postChatCompletion,
} from "./provider-http.js";

// Which failures of a chat completion may be sent again: only those the provider cannot have acted on
// (it was never reached, or it refused with a status). A request it may have received and charged for
// is never sent again (see the attempt policy in the bridge's README).

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function provider(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/proxy`;
}

const body = new TextEncoder().encode('{"messages":[{"role":"user","content":"hi"}]}');
const options = (extra: Partial<HttpCallOptions> = {}): HttpCallOptions => ({
  signal: new AbortController().signal,
  timeoutMs: 20_000,
  ...extra,
});
const call = (endpoint: string, timeoutMs = 2000) =>
  postChatCompletion(endpoint, body, {}, { signal: new AbortController().signal, timeoutMs }).then(
    () => undefined,
    (err: unknown) => err as BackendError,
  );

describe("postChatCompletion: what may be sent again", () => {
  it("a provider that cannot be reached: retryable", async () => {
    const endpoint = await provider(() => {});
    servers[0]!.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const err = await call(endpoint.replace(/:\d+/, ":1"));
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ reason: FailureReason.PROVIDER_UNAVAILABLE, retryable: true });
    expect(err!.message).toContain("unreachable");
  });

  it("an error status from the provider: retryable for 5xx, not for 4xx", async () => {
    let status = 503;
    const endpoint = await provider((_req, res) => {
      res.writeHead(status, { "content-type": "application/json" }).end('{"error":{"message":"busy"}}');
    });
    expect(await call(endpoint)).toMatchObject({ reason: FailureReason.PROVIDER_ERROR, retryable: true });
    status = 400;
    expect(await call(endpoint)).toMatchObject({ reason: FailureReason.PROVIDER_ERROR, retryable: false });
  });

  it("no answer after the request was received: not sent again, saying why", async () => {
    const endpoint = await provider((req) => {
      req.resume(); // reads the request, never answers
    });
    const err = await call(endpoint, 300);
    expect(err).toMatchObject({ reason: FailureReason.PROVIDER_UNAVAILABLE, retryable: false });
    expect(err!.message).toMatch(/did not answer within 300 ms after receiving the request/);
    expect(err!.message).toMatch(/not sent again: the provider may have charged for it/);
  });

  it("a connection dropped in the middle of the answer: not sent again", async () => {
    const endpoint = await provider((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      res.write('{"id":"x",', () => res.destroy());
    });
    const err = await call(endpoint);
    expect(err).toMatchObject({ reason: FailureReason.PROVIDER_UNAVAILABLE, retryable: false });
    expect(err!.message).toMatch(/closed the connection mid-response; the request is not sent again/);
  });
});

// A hostile 0G provider (or a hostile registry entry naming its URL): whatever it answers, each call ends
// with a BackendError that names the failure, bounded in memory, never a raw exception that would stop
// the job from failing over to another provider.

/** The service URL (origin) of a provider on 127.0.0.1. */
const origin = async (handler: Parameters<typeof createServer>[1]) =>
  (await provider(handler)).replace(/\/v1\/proxy$/, "");

/** Writes `chunk` until the client goes away: an endless body. Counts what it wrote. */
function endless(res: ServerResponse, chunk: string | Buffer, sent = { bytes: 0 }) {
  const more = () => {
    while (!res.destroyed && res.write(chunk)) sent.bytes += chunk.length;
    if (!res.destroyed) res.once("drain", more);
  };
  more();
  return sent;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

describe("a hostile provider's answers are bounded", () => {
  it("an endless chat completion body fails at the size limit, not sent again", async () => {
    const sent = { bytes: 0 };
    const url = await origin((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream" });
      endless(res, `data: {"choices":[{"delta":{"content":"${"x".repeat(4000)}"}}]}\n\n`, sent);
    });
    let seen = 0;
    const err = await failure(
      postChatCompletion(
        `${url}/v1/proxy`,
        body,
        {},
        {
          ...options({ maxBytes: 1 << 20 }),
          onChunk: (c) => {
            seen += c.length;
          },
        },
      ),
    );
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ reason: FailureReason.PROVIDER_ERROR, retryable: false });
    expect((err as Error).message).toMatch(/answered more than 1048576 bytes/);
    expect((err as Error).message).toMatch(/not sent again/);
    expect(seen).toBeLessThan(2 << 20);
  });

  it("an SSE line without end is cut at the same limit", async () => {
    const url = await origin((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: ");
      endless(res, "y".repeat(65_536));
    });
    const err = await failure(
      postChatCompletion(`${url}/v1/proxy`, body, {}, options({ maxBytes: 1 << 20 })),
    );
    expect(err).toMatchObject({ reason: FailureReason.PROVIDER_ERROR, retryable: false });
  });

  it("a huge attestation fails over (proof_invalid, retryable) at its limit", async () => {
    const url = await origin((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"quote":"');
      endless(res, "ab".repeat(32_768));
    });
    const err = await failure(fetchAttestation(url, options({ maxBytes: 1 << 20 })));
    expect(err).toMatchObject({ reason: FailureReason.PROOF_INVALID, retryable: true });
    expect((err as Error).message).toMatch(/more than 1048576 bytes for its attestation/);
  });

  it("a huge signature record fails at its limit (the default: 256 KiB)", async () => {
    const url = await origin((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"text":"');
      endless(res, "z".repeat(65_536));
    });
    const err = await failure(fetchSignature(url, "chat-1", "m", options()));
    expect(err).toMatchObject({ reason: FailureReason.PROOF_INVALID });
    expect((err as Error).message).toMatch(/more than 262144 bytes/);
  });
});

describe("a hostile provider's malformed answers fail the call, named", () => {
  it("a signature record that is not JSON, or JSON null: proof_invalid", async () => {
    let answer = "<html>oops</html>";
    const url = await origin((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(answer);
    });
    for (answer of ["<html>oops</html>", "null", "[]", '{"text":1,"signature":"0x"}']) {
      const err = await failure(fetchSignature(url, "chat-1", "m", options()));
      expect(err, answer).toBeInstanceOf(BackendError);
      expect(err).toMatchObject({ reason: FailureReason.PROOF_INVALID });
      expect((err as Error).message).toMatch(/malformed signature record/);
    }
  });

  it("a signature record's optional fields of another type are dropped, not carried into the proof", async () => {
    const url = await origin((_req, res) => {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end('{"text":"a:b","signature":"0x01","signing_algo":{"x":1},"signing_address":7,"extra":"e"}');
    });
    expect(await fetchSignature(url, "chat-1", "m", options())).toEqual({ text: "a:b", signature: "0x01" });
  });

  it("an attestation that is JSON but not an object (null, an array, a number): proof_invalid, retryable", async () => {
    let answer = "null";
    const url = await origin((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }).end(answer);
    });
    for (answer of ["null", "[1,2]", "7", '"quote"']) {
      const err = await failure(fetchAttestation(url, options()));
      expect(err, answer).toBeInstanceOf(BackendError);
      expect(err).toMatchObject({ reason: FailureReason.PROOF_INVALID, retryable: true });
    }
  });

  it("an attestation nested 100 000 deep (JSON.stringify of it overflows the stack): proof_invalid, retryable", async () => {
    const url = await origin((_req, res) => {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(`{"quote":"00","event_log":${"[".repeat(100_000)}${"]".repeat(100_000)}}`);
    });
    const err = await failure(fetchAttestation(url, options()));
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ reason: FailureReason.PROOF_INVALID, retryable: true });
    expect((err as Error).message).toMatch(/nested deeper than 64/);
  });

  it("a redirect is not followed: the chat fails with the status, the attestation with proof_invalid", async () => {
    let followed = false;
    const target = await origin(() => {
      followed = true;
    });
    const url = await origin((req, res) => {
      req.resume();
      res.writeHead(307, { location: `${target}/v1/quote` }).end();
    });
    expect(await failure(fetchAttestation(url, options()))).toMatchObject({
      reason: FailureReason.PROOF_INVALID,
    });
    expect(await failure(postChatCompletion(`${url}/v1/proxy`, body, {}, options()))).toMatchObject({
      reason: FailureReason.PROVIDER_ERROR,
      retryable: false,
    });
    expect(followed).toBe(false);
  });
});

describe("a registry entry's service URL", () => {
  it("not an http(s) URL (a unix socket, file:, garbage): refused before anything is sent, retryable", async () => {
    for (const url of [
      "unix:/var/run/docker.sock",
      "file:///etc/passwd",
      "not a url",
      "",
      "ftp://example.com",
    ]) {
      const err = await failure(fetchAttestation(url, options()));
      expect(err, url).toBeInstanceOf(BackendError);
      expect(err).toMatchObject({ reason: FailureReason.PROVIDER_UNAVAILABLE, retryable: true });
      expect((err as Error).message).toMatch(/is not an http\(s\) URL/);
      const chat = await failure(postChatCompletion(`${url}/v1/proxy`, body, {}, options()));
      expect(chat, url).toMatchObject({ reason: FailureReason.PROVIDER_UNAVAILABLE, retryable: true });
    }
  });

  it("with public hosts only (testnet, mainnet): loopback, private, link-local and metadata addresses are refused unsent", async () => {
    let reached = false;
    const url = await origin((_req, res) => {
      reached = true;
      res.end("{}");
    });
    const port = new URL(url).port;
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      "169.254.169.254",
      "10.0.0.8:8080",
      "192.168.1.1",
      "172.16.0.1",
      "100.64.0.1",
      "0.0.0.0",
      "[::1]",
      "[::ffff:127.0.0.1]",
      "[fd00::1]",
      "[fe80::1]",
    ]) {
      const err = await failure(fetchAttestation(`http://${host}`, options({ publicHostsOnly: true })));
      expect(err, host).toBeInstanceOf(BackendError);
      expect(err, host).toMatchObject({ reason: FailureReason.PROVIDER_UNAVAILABLE, retryable: true });
      expect((err as Error).message, host).toMatch(/not a public address/);
    }
    expect(reached).toBe(false);
    // The devnet (and a custom network) may name loopback.
    expect(await fetchAttestation(url, options())).toMatchObject({ json: {} });
    expect(reached).toBe(true);
  });
});
