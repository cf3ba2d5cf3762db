import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setImmediate as nextTurn } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { httpGet } from "./http-get.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A server answering 200, then a byte every 20 ms for ever; `hungUp` resolves when the client hangs up. */
async function drippingServer() {
  let hangUp!: () => void;
  const hungUp = new Promise<void>((resolve) => {
    hangUp = resolve;
  });
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json", "content-length": 100_000 });
    res.write("{");
    const drip = setInterval(() => res.write(" "), 20);
    res.on("close", () => {
      clearInterval(drip);
      hangUp();
    });
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tcb`, hungUp };
}

describe("httpGet", () => {
  // Node 20's fetch (undici 6) follows the signal through a Request it holds weakly once the headers are in:
  // after a collection, an abort may no longer reach the body (the bridge's fetches were caught by this).
  it("hangs up on an answer still dripping at its timeout, with garbage collections meanwhile", async () => {
    const { url, hungUp } = await drippingServer();
    const options = { fetch: globalThis.fetch, timeoutMs: 300, maxBytes: 1 << 20 };
    const get = httpGet(url, options, new AbortController().signal);
    let settled = false;
    get.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      gc();
      await nextTurn();
      await new Promise((r) => setTimeout(r, 20));
    }
    await expect(get).rejects.toMatchObject({ kind: "timeout" });
    const hungUpInTime = await Promise.race([
      hungUp.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000)),
    ]);
    expect(hungUpInTime).toBe(true);
  });
});
