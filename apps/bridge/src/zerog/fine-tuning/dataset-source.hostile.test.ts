import { execFileSync } from "node:child_process";
import { constants } from "node:fs";
import { mkdir, mkdtemp, open } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSignedCert } from "../../../test/self-signed-cert.js";
import {
  type DatasetPolicy,
  defaultDatasetPolicy,
  loadDataset,
  parseDatasetSource,
} from "./dataset-source.js";

const DATASET = '{"instruction":"Say hi","output":"hi"}\n';

/** Datasets a hostile caller names: each must end as a refusal value, never a hang or a crash. */
describe("loadDataset with hostile datasets", () => {
  const signal = new AbortController().signal;
  let dir: string;
  let server: Server;
  let base: string;
  let policy: DatasetPolicy;

  beforeAll(async () => {
    dir = join(await mkdtemp(join(tmpdir(), "ft-hostile-")), "datasets");
    await mkdir(dir);
    const tls = selfSignedCert();
    server = createServer({ key: tls.key, cert: tls.cert }, (_req, res) => res.end(DATASET));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    policy = { ...defaultDatasetPolicy, datasetDir: dir, httpsHosts: ["127.0.0.1"], httpsCa: tls.cert };
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("a FIFO in the dataset directory is refused as not a regular file, without waiting for a writer", async () => {
    const fifo = join(dir, "fifo.jsonl");
    execFileSync("mkfifo", [fifo]);
    const pending = loadDataset({ kind: "file", path: fifo }, policy, signal);
    const outcome = await Promise.race([
      pending,
      new Promise<"blocked">((resolve) => setTimeout(() => resolve("blocked"), 2000).unref()),
    ]);
    if (outcome === "blocked") {
      // Unblock the open() stuck in the thread pool so the worker can exit.
      const writer = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      await writer.close();
      await pending;
    }
    expect(outcome).toEqual({ ok: false, problem: `${fifo} is not a regular file` });
  });

  it("a URL whose last path segment is malformed percent-encoding loads, with a safe file name", async () => {
    for (const path of ["/set%E0%A4%A", "/%ZZ.jsonl", "/%"]) {
      const r = await loadDataset({ kind: "https", url: new URL(`${base}${path}`) }, policy, signal);
      expect(r.ok, path).toBe(true);
      if (r.ok) expect(r.dataset.fileName, path).toMatch(/^[\w.-]+$/);
    }
  });

  it('"*" (any host) does not reach the bridge\'s own network: private and loopback addresses are refused, named hosts are not', async () => {
    const any = { ...policy, httpsHosts: ["*"] };
    for (const host of [
      "127.0.0.1",
      "10.0.0.8",
      "169.254.169.254",
      "[::1]",
      "[::ffff:127.0.0.1]",
      "0.0.0.0",
    ]) {
      const r = parseDatasetSource(`https://${host}/set.jsonl`, any);
      expect(r.ok ? "ok" : r.description, host).toMatch(/is not a public address/);
    }
    expect(parseDatasetSource("https://93.184.215.14/set.jsonl", any).ok).toBe(true);
    // A name that resolves to loopback is refused when the connection is made.
    const port = (server.address() as AddressInfo).port;
    const r = await loadDataset(
      { kind: "https", url: new URL(`https://localhost:${port}/set.jsonl`) },
      any,
      signal,
    );
    expect(r.ok ? "ok" : r.problem).toMatch(
      /localhost resolves to a non-public address \(127\.0\.0\.1|::1\)/,
    );
    // Named explicitly by the operator, a private host is fetched.
    expect((await loadDataset({ kind: "https", url: new URL(`${base}/set.jsonl`) }, policy, signal)).ok).toBe(
      true,
    );
  });
});
