import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, realpath } from "node:fs/promises";
import https from "node:https";
import { isIP } from "node:net";
import { isAbsolute, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { FieldViolation } from "@chaoschain/zerog-core";
import { isPublicAddress, NonPublicAddressError, publicOnlyLookup } from "../public-address.js";
import { checkDataset, type DatasetSummary, nextTurn } from "./dataset-format.js";

/** Where a fine-tuning dataset comes from (`task.inputs.dataset`). */
export type DatasetSource =
  | { kind: "inline"; text: string }
  | { kind: "file"; path: string }
  | { kind: "https"; url: URL }
  /** A 0G Storage root hash: the provider fetches the dataset itself; the bridge never sees the bytes. */
  | { kind: "root-hash"; rootHash: string };

/** What the operator allows (bridge options `--dataset-dir`, `--dataset-https-hosts`). */
export interface DatasetPolicy {
  /** `file://` datasets must lie inside this directory (after resolving symlinks); undefined refuses them. */
  datasetDir: string | undefined;
  /** Host names `https://` datasets may come from; `["*"]` allows any; empty refuses them. */
  httpsHosts: readonly string[];
  /** Extra trusted CA certificates (PEM) for `https://` datasets; undefined uses Node's store. */
  httpsCa?: string | undefined;
  /** Largest inline dataset, bytes. Default 1 MiB. */
  maxInlineBytes: number;
  /** Largest dataset from a file or URL, bytes. Default 100 MiB (the provider's upload limit). */
  maxBytes: number;
  /** Longest wait for an `https://` dataset, ms. Default 60 000. */
  fetchTimeoutMs: number;
}

export const defaultDatasetPolicy: DatasetPolicy = {
  datasetDir: undefined,
  httpsHosts: [],
  maxInlineBytes: 1024 * 1024,
  maxBytes: 100 * 1024 * 1024,
  fetchTimeoutMs: 60_000,
};

type Refusal = { ok: false; reason: FieldViolation["reason"]; description: string };

const rootHashPattern = /^0x[0-9a-fA-F]{64}$/;

/**
 * Reads `task.inputs.dataset` as one of the four accepted forms, or says why it is refused: inline
 * JSONL (it starts with `{`), `file://<absolute path>` inside the dataset directory, `https://` from an
 * allowed host, or a 0G Storage root hash (`0x` + 64 hex). No I/O.
 *
 * @example
 * parseDatasetSource("0x" + "ab".repeat(32), defaultDatasetPolicy) // { ok: true, source: { kind: "root-hash", … } }
 */
export function parseDatasetSource(
  value: string,
  policy: DatasetPolicy,
): { ok: true; source: DatasetSource } | Refusal {
  const refuse = (reason: FieldViolation["reason"], description: string): Refusal => ({
    ok: false,
    reason,
    description,
  });
  if (value.startsWith("{")) {
    const bytes = Buffer.byteLength(value);
    if (bytes > policy.maxInlineBytes) {
      return refuse(
        "OUT_OF_RANGE",
        `inline datasets are limited to ${policy.maxInlineBytes} bytes (this one is ${bytes}); give a file:// path, an https:// URL or a 0G Storage root hash`,
      );
    }
    return { ok: true, source: { kind: "inline", text: value } };
  }
  if (rootHashPattern.test(value))
    return { ok: true, source: { kind: "root-hash", rootHash: value.toLowerCase() } };
  if (value.startsWith("0x"))
    return refuse("INVALID_VALUE", "a 0G Storage root hash is 0x followed by 64 hex digits");
  if (value.startsWith("file:")) {
    if (policy.datasetDir === undefined) {
      return refuse("INVALID_VALUE", "this bridge takes no file:// datasets (start it with --dataset-dir)");
    }
    let path: string;
    try {
      path = fileURLToPath(value);
    } catch {
      return refuse("INVALID_VALUE", "not a file:// URL of an absolute path on the bridge host");
    }
    if (!isAbsolute(path))
      return refuse("INVALID_VALUE", "not a file:// URL of an absolute path on the bridge host");
    return { ok: true, source: { kind: "file", path } };
  }
  if (/^https?:/i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return refuse("INVALID_VALUE", "not a valid URL");
    }
    if (url.protocol !== "https:") return refuse("INVALID_VALUE", "datasets are fetched over https:// only");
    if (url.username || url.password)
      return refuse("INVALID_VALUE", "credentials in the URL are not accepted");
    const host = bareHost(url.hostname);
    if (!hostNamed(host, policy.httpsHosts) && isIP(host) !== 0 && !isPublicAddress(host))
      return refuse(
        "INVALID_VALUE",
        `${host} is not a public address; name it in --dataset-https-hosts to fetch datasets from it`,
      );
    if (!hostAllowed(url.hostname, policy.httpsHosts)) {
      return refuse(
        "INVALID_VALUE",
        policy.httpsHosts.length === 0
          ? "this bridge fetches no https:// datasets (start it with --dataset-https-hosts)"
          : `host ${url.hostname} is not one this bridge fetches datasets from (${policy.httpsHosts.join(", ")})`,
      );
    }
    return { ok: true, source: { kind: "https", url } };
  }
  return refuse(
    "INVALID_VALUE",
    'expected inline JSONL (starting with "{"), a file:// path, an https:// URL or a 0G Storage root hash (0x…)',
  );
}

const bareHost = (host: string) => host.toLowerCase().replace(/^\[|\]$/g, "");

function hostAllowed(host: string, allowed: readonly string[]): boolean {
  return allowed.includes("*") || hostNamed(bareHost(host), allowed);
}

/** Whether the operator named this host itself (not only through `*`). */
function hostNamed(host: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => a !== "*" && bareHost(a) === host);
}

/** A dataset read and checked: its bytes, sha256 and shape. */
export interface LoadedDataset {
  bytes: Uint8Array;
  sha256: string;
  summary: DatasetSummary;
  /** File name sent with the upload. */
  fileName: string;
}

export type LoadDatasetResult = { ok: true; dataset: LoadedDataset } | { ok: false; problem: string };

/**
 * Reads a dataset (inline, file or https) within the policy's limits and checks its format
 * ({@link checkDataset}). Root-hash datasets have no bytes here: the provider reads them from 0G
 * Storage. Problems with the input (missing file, outside the directory, bad format, HTTP error) are
 * values, never throws; only `signal` aborts with its reason.
 */
export async function loadDataset(
  source: Exclude<DatasetSource, { kind: "root-hash" }>,
  policy: DatasetPolicy,
  signal: AbortSignal,
): Promise<LoadDatasetResult> {
  let read: { ok: true; bytes: Uint8Array; fileName: string } | { ok: false; problem: string };
  if (source.kind === "inline")
    read = { ok: true, bytes: Buffer.from(source.text), fileName: "dataset.jsonl" };
  else if (source.kind === "file") read = await readDatasetFile(source.path, policy);
  else read = await fetchDataset(source.url, policy, signal);
  if (!read.ok) return read;
  const checked = await checkDataset(read.bytes, { maxBytes: policy.maxBytes, maxExamples: 1_000_000 });
  if (!checked.ok) return { ok: false, problem: checked.problem };
  return {
    ok: true,
    dataset: {
      bytes: read.bytes,
      sha256: await datasetSha256(read.bytes),
      summary: checked.summary,
      fileName: read.fileName,
    },
  };
}

/**
 * The hex sha256 of a dataset, hashed 4 MiB at a time with a turn of the event loop in between (100 MiB
 * at once held it for about 50 ms).
 */
export async function datasetSha256(bytes: Uint8Array): Promise<string> {
  const hash = createHash("sha256");
  for (let at = 0; at < bytes.length; at += hashSliceBytes) {
    hash.update(bytes.subarray(at, at + hashSliceBytes));
    await nextTurn();
  }
  return hash.digest("hex");
}

const hashSliceBytes = 4 * 1024 * 1024;

async function readDatasetFile(
  path: string,
  policy: DatasetPolicy,
): Promise<{ ok: true; bytes: Uint8Array; fileName: string } | { ok: false; problem: string }> {
  const dir = policy.datasetDir;
  if (dir === undefined) return { ok: false, problem: "this bridge takes no file:// datasets" };
  let real: string;
  let root: string;
  try {
    [real, root] = await Promise.all([realpath(path), realpath(dir)]);
  } catch (err) {
    return { ok: false, problem: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? "error"})` };
  }
  const rel = relative(root, real);
  if (rel === "" || rel.startsWith(`..${sep}`) || rel === ".." || isAbsolute(rel)) {
    return { ok: false, problem: `${path} is outside the bridge's dataset directory ${dir}` };
  }
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; the stat below refuses anything but a file.
    file = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const stat = await file.stat();
    if (!stat.isFile()) return { ok: false, problem: `${path} is not a regular file` };
    if (stat.size > policy.maxBytes)
      return { ok: false, problem: `${path} is ${stat.size} bytes; at most ${policy.maxBytes} are accepted` };
    const bytes = Buffer.alloc(stat.size);
    const { bytesRead } = await file.read(bytes, 0, stat.size, 0);
    return {
      ok: true,
      bytes: bytes.subarray(0, bytesRead),
      fileName: real.split(sep).at(-1) ?? "dataset.jsonl",
    };
  } catch (err) {
    return { ok: false, problem: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? "error"})` };
  } finally {
    await file?.close();
  }
}

/** The URL's last path segment as a file name of `[\w.-]` only; malformed percent-encoding stays encoded. */
function uploadFileName(url: URL): string {
  const segment = url.pathname.split("/").at(-1) ?? "";
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    name = segment;
  }
  return name.replace(/[^\w.-]/g, "_").slice(0, 255) || "dataset.jsonl";
}

/** GET over https: no redirects, no compression, the body capped at `maxBytes`, one overall timeout. */
function fetchDataset(
  url: URL,
  policy: DatasetPolicy,
  signal: AbortSignal,
): Promise<{ ok: true; bytes: Uint8Array; fileName: string } | { ok: false; problem: string }> {
  const where = `${url.origin}${url.pathname}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (
      outcome: { ok: true; bytes: Uint8Array; fileName: string } | { ok: false; problem: string },
    ) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      req.destroy();
      resolve(outcome);
    };
    const onAbort = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(signal.reason);
    };
    const req = https.get(
      url,
      {
        headers: { accept: "application/jsonl, application/x-ndjson, text/plain, */*" },
        ...(hostNamed(bareHost(url.hostname), policy.httpsHosts) ? {} : { lookup: publicOnlyLookup }),
        ...(policy.httpsCa ? { ca: policy.httpsCa } : {}),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400) {
          finish({ ok: false, problem: `${where} redirects (HTTP ${status}); give the final URL` });
          return;
        }
        if (status !== 200) {
          finish({ ok: false, problem: `${where} answered HTTP ${status}` });
          return;
        }
        const declared = Number(res.headers["content-length"] ?? Number.NaN);
        if (declared > policy.maxBytes) {
          finish({
            ok: false,
            problem: `${where} is ${declared} bytes; at most ${policy.maxBytes} are accepted`,
          });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > policy.maxBytes) {
            finish({ ok: false, problem: `${where} is larger than ${policy.maxBytes} bytes` });
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          finish({ ok: true, bytes: Buffer.concat(chunks, size), fileName: uploadFileName(url) });
        });
        res.on("error", (err) => finish({ ok: false, problem: `fetching ${where} failed (${err.message})` }));
        res.on("close", () => {
          if (!res.complete) finish({ ok: false, problem: `${where} closed the connection mid-body` });
        });
      },
    );
    const timer = setTimeout(
      () => finish({ ok: false, problem: `${where} did not answer within ${policy.fetchTimeoutMs} ms` }),
      policy.fetchTimeoutMs,
    );
    req.on("error", (err: NodeJS.ErrnoException) =>
      finish({
        ok: false,
        problem:
          err instanceof NonPublicAddressError
            ? `${err.message}; name the host in --dataset-https-hosts to fetch datasets from it`
            : `fetching ${where} failed (${err.code ?? err.message})`,
      }),
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
