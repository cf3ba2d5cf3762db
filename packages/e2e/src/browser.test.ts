import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bins, type Stack, startStack } from "./stack.js";

const CHROMIUM = process.env.ZEROG_CHROMIUM ?? "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);

/**
 * The adapter's browser entry in headless Chromium against a bridge process. By default the page
 * and the bridge's API share one origin (a small proxy serves the page and forwards the
 * ComputeService paths), which works whatever the bridge's CORS policy. When the bridge offers
 * `--cors-origin` (or ZEROG_E2E_BROWSER=cross-origin), the page also calls it across origins.
 */
const crossOrigin =
  process.env.ZEROG_E2E_BROWSER === "cross-origin" ||
  (process.env.ZEROG_E2E_BROWSER !== "same-origin" &&
    execFileSync(process.execPath, [bins.bridge, "--help"], { encoding: "utf8" }).includes("--cors-origin"));

let page: http.Server;
let origin = "";
let stack: Stack;
let bundle: Uint8Array;
/** The adapter README's browser example, bundled as printed but for the bridge's address. */
let readmeBundle: Uint8Array;
const readmeAddress = "http://127.0.0.1:50051";

beforeAll(async () => {
  if (!hasChromium) return;
  const out = await build({
    entryPoints: [fileURLToPath(new URL("browser-entry.ts", import.meta.url))],
    bundle: true,
    platform: "browser",
    format: "iife",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
    define: { global: "globalThis", "process.env.NODE_ENV": '"production"' },
  });
  bundle = out.outputFiles[0]?.contents as Uint8Array;
  // platform "browser" fails the build on any node: import; make sure no Node transport slipped in.
  expect(Object.keys(out.metafile.inputs).filter((f) => /connect-node|node:/.test(f))).toEqual([]);
  const readme = readFileSync(fileURLToPath(new URL("../../adapter/README.md", import.meta.url)), "utf8");
  const example = /## Browser\n\n```js\n([\s\S]*?)```/.exec(readme)?.[1] as string;
  expect(example).toContain(readmeAddress);
  const readmeOut = await build({
    stdin: {
      contents: example.replace(`"${readmeAddress}"`, "location.origin"),
      resolveDir: fileURLToPath(new URL(".", import.meta.url)),
      loader: "js",
    },
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    write: false,
    logLevel: "silent",
    define: { global: "globalThis", "process.env.NODE_ENV": '"production"' },
  });
  readmeBundle = readmeOut.outputFiles[0]?.contents as Uint8Array;
  page = http.createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end('<!doctype html><meta charset="utf-8"><title>zerog</title><script src="/bundle.js"></script>');
    } else if (req.url === "/bundle.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(bundle);
    } else if (req.url === "/readme.html") {
      // The example is a module with top-level await: its import settles once it has run to its end.
      res.writeHead(200, { "content-type": "text/html" });
      res.end('<!doctype html><script type="module">globalThis.readmeDone = import("/readme.js");</script>');
    } else if (req.url === "/readme.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(readmeBundle);
    } else if (req.url === "/devnet-policy.json") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(stack.policy));
    } else if (req.url === "/trust.json") {
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ policy: stack.policy }));
    } else if (req.url?.startsWith("/chaoschain.zerog.v1.ComputeService/")) {
      // Same-origin: forward the call to the bridge as is (Connect and gRPC-web over HTTP/1.1).
      const upstream = http.request(
        `${stack.baseUrl}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: stack.grpcUrl } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.writeHead(502).end());
      req.pipe(upstream);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => page.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  stack = await startStack(crossOrigin ? { bridgeArgs: ["--cors-origin", origin] } : {});
});
afterAll(async () => {
  await new Promise((r) => (page ? page.close(r) : r(undefined)));
  await stack?.close();
});

async function inChromium<T>(
  fn: (arg: { bridge: string }) => Promise<T>,
  bridge: string,
  path = "/",
  logged: string[] = [],
): Promise<T> {
  const userDataDir = mkdtempSync(join(tmpdir(), "zerog-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const outside: string[] = [];
  try {
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(origin) || url.startsWith(stack.baseUrl)) return route.continue();
      outside.push(url);
      return route.abort();
    });
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on("pageerror", (e) => errors.push(String(e)));
    tab.on("console", (m) => logged.push(m.text()));
    await tab.goto(`${origin}${path}`);
    const result = await tab.evaluate(fn, { bridge });
    expect(errors).toEqual([]);
    expect(outside).toEqual([]);
    return result;
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

/** Runs in the page: a job through the browser adapter, its result verified there (embedded collateral). */
async function jobInPage({ bridge }: { bridge: string }) {
  type Z = typeof import("@chaoschain/zerog-adapter/browser");
  type V = typeof import("@chaoschain/zerog-verifier");
  const z = (globalThis as unknown as { zerog: Z & { verifyProof: V["verifyProof"] } }).zerog;
  const { policy } = await (await fetch("/trust.json")).json();
  const runs = [];
  for (const protocol of ["connect", "grpc-web"] as const) {
    const zerog = new z.ZeroGComputeAdapter({
      grpcUrl: bridge,
      protocol,
      timeoutSeconds: 60,
      verify: { policy },
    });
    const models = await zerog.getModels();
    const jobId = await zerog.submit({
      task_type: "inference",
      model: "llama-3-8b",
      inputs: { prompt: `Hello from ${protocol}` },
      verification: "tee-ml",
    });
    const result = await zerog.result(jobId, { wait: true, timeoutS: 60 }); // verified in the page
    const report = result.verification;
    if (!report) throw new Error("not verified");
    const now = Math.floor(Date.now() / 1000);
    const forged = await z.verifyProof({ output: `${result.output}!`, proof: result.proof }, { policy, now });
    runs.push({
      protocol,
      models,
      state: (await zerog.status(jobId)).state,
      output: result.output,
      verified: report.ok,
      failed: report.checks.filter((c) => c.status === "fail").map((c) => c.name),
      forged: forged.reason,
    });
  }
  return { runs, hasBuffer: typeof (globalThis as { Buffer?: unknown }).Buffer !== "undefined" };
}

describe.skipIf(!hasChromium)("the adapter's browser entry in headless Chromium", () => {
  const expected = (protocol: string) => ({
    protocol,
    models: ["gpt-oss-120b", "llama-3-8b"],
    state: "completed",
    output: `llama-3-8b (0G devnet) heard: Hello from ${protocol}`,
    verified: true,
    failed: [],
    forged: "output_mismatch",
  });

  it("runs a job over Connect and gRPC-web from the page's own origin and verifies it in the page", async () => {
    const { runs, hasBuffer } = await inChromium(jobInPage, origin);
    expect(hasBuffer).toBe(false);
    expect(runs).toEqual([expected("connect"), expected("grpc-web")]);
  }, 120_000);

  it("the README's browser example runs as printed (but for the bridge's address), verifying in the page", async () => {
    const logged: string[] = [];
    const ranToItsEnd = async () => {
      await (globalThis as { readmeDone?: Promise<unknown> }).readmeDone;
    };
    await inChromium(ranToItsEnd, origin, "/readme.html", logged);
    expect(logged).toContain("llama-3-8b (0G devnet) heard: What is blockchain?");
  }, 120_000);

  it.runIf(crossOrigin)(
    "calls the bridge across origins when it allows the page's origin",
    async () => {
      const { runs } = await inChromium(jobInPage, stack.baseUrl);
      expect(runs).toEqual([expected("connect"), expected("grpc-web")]);
    },
    120_000,
  );
});
