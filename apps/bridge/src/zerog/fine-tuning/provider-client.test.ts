import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FailureReason } from "@chaoschain/zerog-core";
import { SigningKey } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectGarbage, collectingGarbage } from "../../../test/garbage.js";
import { BackendError } from "../../backend.js";
import { FineTuningProviderClient } from "./provider-client.js";

const TASK = "3f2c1a9e-8b7d-4c6e-9f01-23456789abcd";

/** A provider that answers every call with `head`, then one byte of `drip` every 20 ms, then ends. */
let provider: { url: string; close(): Promise<void> };
let answer: { head: string; drip: string; contentType: string };
/** Whether the provider's last answer was sent to its end (false: the client hung up first). */
let answered: Promise<boolean>;
beforeAll(async () => {
  const server = createServer(async (req, res) => {
    for await (const _ of req);
    const { head, drip, contentType } = answer;
    answered = new Promise((resolve) => res.once("close", () => resolve(res.writableEnded)));
    res.writeHead(200, { "content-type": contentType, "content-length": head.length + drip.length });
    res.write(head);
    for (const byte of drip) {
      await new Promise((r) => setTimeout(r, 20));
      if (res.destroyed) return;
      res.write(byte);
    }
    res.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  provider = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
});
afterAll(() => provider?.close());

function client(timeoutMs = 10_000) {
  return new FineTuningProviderClient({
    url: provider.url,
    user: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    key: new SigningKey(`0x${"11".repeat(32)}`),
    timeoutMs,
  });
}

describe("FineTuningProviderClient: an abort ends a body that is still arriving", () => {
  it("a model declared larger than the limit is refused and its body not read: the connection is closed", async () => {
    answer = { head: "E", drip: "x".repeat(100), contentType: "application/octet-stream" };
    const download = client().downloadModel(TASK, 10, () => {}, new AbortController().signal);
    await expect(download).rejects.toThrow(/serves a model larger than the bridge's limit of 10 bytes/);
    expect(await answered).toBe(false);
  });

  it("the caller's abort ends a dripping model download, even after a garbage collection", async () => {
    answer = { head: "E", drip: "x".repeat(100), contentType: "application/octet-stream" };
    const controller = new AbortController();
    const deadline = new DOMException("the download deadline passed", "TimeoutError");
    let received = 0;
    const download = client().downloadModel(
      TASK,
      1024,
      async () => {
        received++;
        if (received !== 2) return;
        await collectGarbage();
        controller.abort(deadline);
      },
      controller.signal,
    );
    await expect(download).rejects.toBe(deadline);
    // The drip (2 s) was cut short, not read to its end.
    expect(received).toBeLessThan(10);
  });

  it("the per-call timeout ends an answer that drips after its headers, even after a garbage collection", async () => {
    answer = { head: '{"id":', drip: `${" ".repeat(100)}"x"}`, contentType: "application/json" };
    const call = client(300).getTask(TASK, new AbortController().signal);
    const err = (await collectingGarbage(call).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.reason).toBe(FailureReason.PROVIDER_UNAVAILABLE);
    expect(err.message).toBe(
      `provider ${provider.url}/v1/user/0x70997970C51812dc3A010C7d01b50e0d17dc79C8/task/${TASK} did not answer in time`,
    );
  });
});
