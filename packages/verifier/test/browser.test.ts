import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type PccsSimulatorHandle, startPccsSimulator } from "@chaoschain/zerog-devnet";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeFixture, NOW, pki, toProtoJson } from "./fixtures.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`browser test skipped: ${CHROMIUM} not found (apt-get install -y chromium)`);

const here = fileURLToPath(new URL(".", import.meta.url));

describe.skipIf(!hasChromium)("in headless Chromium", () => {
  let server: Server;
  let pccs: PccsSimulatorHandle;
  let origin = "";
  let bundleBytes = 0;
  const fx = makeFixture();

  beforeAll(async () => {
    const out = await build({
      entryPoints: [join(here, "browser-entry.ts")],
      bundle: true,
      platform: "browser",
      format: "iife",
      target: "es2022",
      write: false,
      logLevel: "silent",
      define: { global: "globalThis", "process.env.NODE_ENV": '"production"' },
    });
    const js = out.outputFiles[0]?.contents as Uint8Array;
    bundleBytes = js.length;
    const files: Record<string, [string, Uint8Array | string]> = {
      "/": [
        "text/html",
        '<!doctype html><meta charset="utf-8"><title>zerog-verifier</title><script src="/bundle.js"></script>',
      ],
      "/bundle.js": ["text/javascript", js],
      "/tdx_quote": ["application/octet-stream", readFileSync(join(here, "vectors/dcap/tdx_quote"))],
      "/tdx_quote_collateral.json": [
        "application/json",
        readFileSync(join(here, "vectors/dcap/tdx_quote_collateral.json")),
      ],
      "/proof.json": [
        "application/json",
        JSON.stringify({
          result: toProtoJson(fx.result, "snake"),
          collateral: fx.collateral,
          policy: {
            ...fx.policy,
            tee: {
              ...fx.policy.tee,
              rootCaDer: Buffer.from(fx.policy.tee?.rootCaDer as Uint8Array).toString("hex"),
            },
          },
        }),
      ],
    };
    pccs = await startPccsSimulator({ pki, now: NOW });
    server = createServer(async (req, res) => {
      if (req.url?.startsWith("/pccs/")) {
        // The PCCS on the page's own origin (a cross-origin one would have to allow it with CORS).
        const answer = await fetch(`${pccs.url}${req.url.slice("/pccs".length)}`);
        res.writeHead(answer.status, Object.fromEntries(answer.headers));
        res.end(Buffer.from(await answer.arrayBuffer()));
        return;
      }
      const f = files[req.url ?? ""];
      if (!f) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": f[0] }).end(f[1]);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await pccs?.close();
  });

  it("verifies the shared Intel TDX vector and a full synthetic proof, with no outside requests", async () => {
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
        if (url.startsWith(origin)) return route.continue();
        outside.push(url);
        return route.abort();
      });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${origin}/`);
      const result = await page.evaluate(async (now) => {
        const z = (
          globalThis as unknown as { zerog: typeof import("../src/index.js") & { dcapIsBrowser: boolean } }
        ).zerog;
        const quote = new Uint8Array(await (await fetch("/tdx_quote")).arrayBuffer());
        const collateral = await (await fetch("/tdx_quote_collateral.json")).json();
        const q = await z.verifyQuote(quote, collateral, { now: 1751624191 });
        const late = await z.verifyQuote(quote, collateral, { now: 1752920164 });
        const { result, collateral: c2, policy } = await (await fetch("/proof.json")).json();
        const p = await z.verifyProof(result, { now, collateral: c2, policy });
        const pcs = z.createPcsCollateralSource({ url: `${location.origin}/pccs` });
        const fetched = await z.verifyProof(result, { now, collateral: pcs, policy });
        result.output = `${result.output}.`;
        const tampered = await z.verifyProof(result, { now, collateral: c2, policy });
        return {
          dcapIsBrowser: z.dcapIsBrowser,
          hasBuffer: typeof (globalThis as { Buffer?: unknown }).Buffer !== "undefined",
          quote: {
            ok: q.ok,
            reason: q.reason,
            tcbStatus: q.tcbStatus,
            advisoryIds: q.advisoryIds,
            mrtd: q.quote?.td?.mrtd,
          },
          late: late.reason,
          proof: {
            ok: p.ok,
            reason: p.reason,
            failed: p.checks.filter((c) => c.status !== "pass").map((c) => c.name),
          },
          tampered: tampered.reason,
          fetched: { ok: fetched.ok, reason: fetched.reason, cached: pcs.size() },
        };
      }, NOW);
      expect(errors).toEqual([]);
      expect(result.dcapIsBrowser).toBe(true);
      expect(result.hasBuffer).toBe(false);
      expect(result.quote).toEqual({
        ok: true,
        tcbStatus: "UpToDate",
        advisoryIds: [],
        mrtd: "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
      });
      expect(result.late).toBe("collateral_expired");
      expect(result.proof).toEqual({ ok: true, failed: [] });
      expect(result.tampered).toBe("output_mismatch");
      expect(result.fetched).toEqual({ ok: true, cached: 1 });
      expect(pccs.stats).toEqual({ tcb: 1, qeIdentity: 1, pckCrl: 1, rootCaCrl: 1 });
      expect(outside).toEqual([]);
      expect(bundleBytes).toBeGreaterThan(0);
    } finally {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
