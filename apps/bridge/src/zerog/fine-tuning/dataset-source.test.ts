import { createHash } from "node:crypto";
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bigDataset, longestTurnDuring, turnsDuring } from "../../../test/event-loop.js";
import { selfSignedCert } from "../../../test/self-signed-cert.js";
import {
  type DatasetPolicy,
  type DatasetSource,
  datasetSha256,
  defaultDatasetPolicy,
  loadDataset,
  parseDatasetSource,
} from "./dataset-source.js";

const DATASET = '{"instruction":"Say hi","output":"hi"}\n';
const rootHash = `0x${"ab".repeat(32)}`;

describe("parseDatasetSource", () => {
  const policy: DatasetPolicy = {
    ...defaultDatasetPolicy,
    datasetDir: "/data",
    httpsHosts: ["data.example"],
  };
  const kind = (value: string, p = policy) => {
    const r = parseDatasetSource(value, p);
    return r.ok ? r.source.kind : `${r.reason}: ${r.description}`;
  };

  it("reads the four forms", () => {
    expect(kind(DATASET)).toBe("inline");
    expect(kind(rootHash)).toBe("root-hash");
    expect(kind("file:///data/set.jsonl")).toBe("file");
    expect(kind("https://data.example/set.jsonl")).toBe("https");
    expect(kind("https://DATA.example/set.jsonl")).toBe("https");
  });

  it("refuses other forms and what the operator did not allow, saying how to fix it", () => {
    expect(kind("0x1234")).toMatch(/^INVALID_VALUE: a 0G Storage root hash is 0x followed by 64 hex/);
    expect(kind(' {"text":"a"}')).toMatch(/^INVALID_VALUE: expected inline JSONL/);
    expect(kind("ipfs://x")).toMatch(/^INVALID_VALUE: expected inline JSONL/);
    expect(kind("http://data.example/set.jsonl")).toBe(
      "INVALID_VALUE: datasets are fetched over https:// only",
    );
    expect(kind("https://evil.example/set.jsonl")).toMatch(
      /host evil.example is not one this bridge fetches/,
    );
    expect(kind("https://u:p@data.example/set.jsonl")).toMatch(/credentials/);
    expect(kind("https://data.example/x", { ...policy, httpsHosts: [] })).toMatch(/--dataset-https-hosts/);
    expect(kind("file:///data/x", { ...policy, datasetDir: undefined })).toMatch(/--dataset-dir/);
    expect(kind("file://host/share/x")).toMatch(/absolute path/);
    expect(kind(`{"text":"${"a".repeat(100)}"}`, { ...policy, maxInlineBytes: 50 })).toMatch(
      /^OUT_OF_RANGE: inline datasets are limited to 50 bytes/,
    );
  });
});

describe("loadDataset", () => {
  const signal = new AbortController().signal;
  let dir: string;
  let outside: string;
  let server: Server;
  let base: string;
  let ca: string;
  let policy: DatasetPolicy;
  const routes = new Map<string, (res: ServerResponse) => void>();

  beforeAll(async () => {
    const root = await mkdtemp(join(tmpdir(), "ft-datasets-"));
    dir = join(root, "datasets");
    outside = join(root, "secret.jsonl");
    await mkdir(dir);
    await writeFile(join(dir, "good.jsonl"), DATASET);
    await writeFile(join(dir, "bad.jsonl"), '{"text":"a"}\nnope\n');
    await writeFile(outside, DATASET);
    await symlink(outside, join(dir, "escape.jsonl"));
    await writeFile(join(dir, "big.jsonl"), `{"text":"${"a".repeat(5000)}"}\n`);
    const tls = selfSignedCert();
    ca = tls.cert;
    server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      const route = routes.get(req.url ?? "");
      if (route) route(res);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    policy = {
      ...defaultDatasetPolicy,
      datasetDir: dir,
      httpsHosts: ["127.0.0.1"],
      httpsCa: ca,
      maxBytes: 4096,
    };
    routes.set("/good.jsonl", (res) => res.end(DATASET));
    routes.set("/redirect", (res) => res.writeHead(302, { location: "/good.jsonl" }).end());
    routes.set("/declared-big", (res) => res.writeHead(200, { "content-length": "999999" }).end());
    routes.set("/chunked-big", (res) => {
      res.writeHead(200);
      const chunk = "a".repeat(1024);
      for (let i = 0; i < 10; i++) res.write(chunk);
      res.end();
    });
    routes.set("/hang", () => {});
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const load = (source: DatasetSource, p = policy) =>
    loadDataset(source as Exclude<DatasetSource, { kind: "root-hash" }>, p, signal);
  const fileSource = (path: string): DatasetSource => {
    const r = parseDatasetSource(pathToFileURL(path).href, policy);
    if (!r.ok) throw new Error(r.description);
    return r.source;
  };

  it("inline, file and https datasets: bytes, sha256 and format", async () => {
    const sha256 = createHash("sha256").update(DATASET).digest("hex");
    for (const source of [
      { kind: "inline", text: DATASET } as const,
      fileSource(join(dir, "good.jsonl")),
      { kind: "https", url: new URL(`${base}/good.jsonl`) } as const,
    ]) {
      const r = await load(source);
      expect(r).toMatchObject({
        ok: true,
        dataset: { sha256, summary: { format: "instruction", examples: 1 } },
      });
    }
  });

  it("refuses files outside the dataset directory, through symlinks too, and oversized or malformed files", async () => {
    const problem = async (source: DatasetSource) => {
      const r = await load(source);
      return r.ok ? "ok" : r.problem;
    };
    expect(await problem(fileSource(outside))).toMatch(/is outside the bridge's dataset directory/);
    expect(await problem(fileSource(join(dir, "escape.jsonl")))).toMatch(
      /is outside the bridge's dataset directory/,
    );
    expect(await problem(fileSource(join(dir, "..", "datasets", "..", "secret.jsonl")))).toMatch(/outside/);
    expect(await problem(fileSource(dir))).toMatch(/outside|not a regular file/);
    expect(await problem(fileSource(join(dir, "missing.jsonl")))).toMatch(/cannot read .*ENOENT/);
    expect(await problem(fileSource(join(dir, "big.jsonl")))).toMatch(/5012 bytes; at most 4096/);
    expect(await problem(fileSource(join(dir, "bad.jsonl")))).toBe("line 2 is not JSON");
  });

  it("https: no redirects, errors and size limits as values; a server that hangs times out", async () => {
    const problem = async (path: string, p = policy) => {
      const r = await load({ kind: "https", url: new URL(`${base}${path}`) }, p);
      return r.ok ? "ok" : r.problem;
    };
    expect(await problem("/redirect")).toMatch(/redirects \(HTTP 302\); give the final URL/);
    expect(await problem("/missing")).toMatch(/answered HTTP 404/);
    expect(await problem("/declared-big")).toMatch(/is 999999 bytes; at most 4096/);
    expect(await problem("/chunked-big")).toMatch(/larger than 4096 bytes/);
    expect(await problem("/hang", { ...policy, fetchTimeoutMs: 200 })).toMatch(
      /did not answer within 200 ms/,
    );
    // Without the test CA the self-signed certificate is refused.
    expect(await problem("/good.jsonl", { ...policy, httpsCa: undefined })).toMatch(/fetching .* failed/);
  });

  it("a 100 MiB file is read, checked and hashed without holding up the event loop", async () => {
    const path = join(dir, "large.jsonl");
    await writeFile(path, bigDataset(100 * 1024 * 1024 - 1024));
    const { result, longestMs } = await longestTurnDuring(() =>
      load(fileSource(path), { ...policy, maxBytes: 100 * 1024 * 1024 }),
    );
    expect(result).toMatchObject({ ok: true, dataset: { summary: { format: "instruction" } } });
    // A turn holds at most about 1 MiB of checking or 4 MiB of hashing: 9-50 ms at worst measured on a busy
    // 2-core machine, where the check done at once held the loop for 275-295 ms.
    expect(longestMs).toBeLessThan(200);
  });

  it("the sha256 is computed in slices, yielding to the event loop between them", async () => {
    const bytes = Buffer.from(bigDataset(16 * 1024 * 1024));
    const { result, turns } = await turnsDuring(() => datasetSha256(bytes));
    expect(result).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(turns).toBeGreaterThanOrEqual(4);
  });

  it("an abort stops a fetch with the signal's reason", async () => {
    const controller = new AbortController();
    const pending = loadDataset({ kind: "https", url: new URL(`${base}/hang`) }, policy, controller.signal);
    controller.abort("cancelled");
    await expect(pending).rejects.toBe("cancelled");
  });
});
