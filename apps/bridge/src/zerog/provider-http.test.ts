import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { FailureReason } from "@chaoschain/zerog-core";
import { afterEach, describe, expect, it } from "vitest";
import { BackendError } from "../backend.js";
import { postChatCompletion } from "./provider-http.js";

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
