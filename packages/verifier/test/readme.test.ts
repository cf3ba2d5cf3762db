import { readFileSync } from "node:fs";
import { type PccsSimulatorHandle, startPccsSimulator } from "@chaoschain/zerog-devnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as verifier from "../src/index.js";
import { runCli } from "../src/run-cli.js";
import { makeFixture, pki, toProtoJson } from "./fixtures.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const vectors = new URL("./vectors/dcap/", import.meta.url);

/** The README's library example, its imports dropped (their names are passed in instead). */
const example = (() => {
  const start = readme.indexOf("```ts\nimport { readFile }");
  const code = readme.slice(start + "```ts\n".length, readme.indexOf("```", start + 6));
  return code.replace(/^import .*\n/gm, "");
})();

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
  ...args: string[]
) => (...a: unknown[]) => Promise<void>;

/** What `npm start` writes: the demo result (proto3 JSON, collateral embedded) and the devnet policy. */
function demoFiles(now: number): Record<string, string> {
  const fx = makeFixture({ now });
  const fields = verifier.toQuoteCollateral({ ...fx.collateral, fetch_time: now });
  (fx.result.proof.tee as Record<string, unknown>).collateral = { ...fields, fetchTime: undefined };
  const result = toProtoJson(fx.result, "snake") as {
    proof: { tee: { collateral: Record<string, unknown> } };
  };
  result.proof.tee.collateral.fetch_time = new Date(now * 1000).toISOString();
  const { rootCaDer: _, ...tee } = fx.policy.tee ?? {};
  const policy = { ...fx.policy, tee: { ...tee, rootCaPem: pki.rootCaPem } };
  return {
    ".zerog/demo-result.json": JSON.stringify(result, null, 2),
    ".zerog/devnet-policy.json": JSON.stringify(policy, null, 2),
  };
}

describe("README examples run as printed", () => {
  let pccs: PccsSimulatorHandle;
  const now = Math.floor(Date.now() / 1000);
  beforeAll(async () => {
    pccs = await startPccsSimulator({ pki, now });
  });
  afterAll(() => pccs.close());

  it("the library example: a demo result under the devnet policy, fresh collateral from a PCCS, a quote", async () => {
    const files = demoFiles(now);
    const readFile = async (path: string, encoding?: "utf8") => {
      const data = files[path] ?? readFileSync(new URL(path, vectors));
      return encoding ? data.toString() : new Uint8Array(Buffer.from(data));
    };
    const logged: unknown[][] = [];
    const warned: unknown[][] = [];
    const console = { log: (...a: unknown[]) => logged.push(a), warn: (...a: unknown[]) => warned.push(a) };
    process.env.PCCS_URL = pccs.url;
    try {
      const { createPcsCollateralSource, readCollateralRequest, verifyProof, verifyQuote } = verifier;
      await new AsyncFunction(
        "readFile",
        "createPcsCollateralSource",
        "readCollateralRequest",
        "verifyProof",
        "verifyQuote",
        "console",
        example,
      )(readFile, createPcsCollateralSource, readCollateralRequest, verifyProof, verifyQuote, console);
    } finally {
      delete process.env.PCCS_URL;
    }
    expect(example).toMatch(/report\.message\}`\); \/\/ verified\n/);
    expect(example).toContain('console.log(fresh.ok, fresh.tcbStatus); // true "UpToDate"');
    expect(example).toContain('console.log(q.ok, q.tcbStatus, q.advisoryIds); // true "UpToDate" []');
    expect(logged[0]).toEqual(["verified"]);
    expect(logged).toContainEqual(["pass", "quote.signature_chain", "", expect.any(String)]);
    expect(logged.slice(-2)).toEqual([
      [true, "UpToDate"],
      [true, "UpToDate", []],
    ]);
    expect(warned).toEqual([]); // the devnet policy pins everything: nothing skipped
    expect(pccs.stats.tcb).toBe(1);
  });

  it.each([
    ["zerog-verify quote tdx_quote", 0],
    ["zerog-verify proof .zerog/demo-result.json", 0],
  ])("the CLI example %s…", async (prefix, exit) => {
    const line = readme.split("\n").find((l) => l.startsWith(prefix));
    const argv = (line as string).split(/\s+/).slice(1);
    const files = demoFiles(now);
    const out: string[] = [];
    const code = await runCli(argv, {
      readFile: (p) => new Uint8Array(files[p] ? Buffer.from(files[p]) : readFileSync(new URL(p, vectors))),
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      now: () => now,
    });
    expect(code, out.join("")).toBe(exit);
  });
});
