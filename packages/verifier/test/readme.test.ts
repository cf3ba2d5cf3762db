import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { verifyQuote } from "../src/index.js";
import { runCli } from "../src/run-cli.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const vectors = new URL("./vectors/dcap/", import.meta.url);
const readVector = async (name: string, encoding?: "utf8") =>
  encoding
    ? readFileSync(new URL(name, vectors), encoding)
    : new Uint8Array(readFileSync(new URL(name, vectors)));

describe("README examples run as printed", () => {
  it("the quote-alone library example", async () => {
    const code = readme.slice(
      readme.indexOf("// A quote alone"),
      readme.indexOf("```", readme.indexOf("// A quote alone")),
    );
    const logged: unknown[][] = [];
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (...a: unknown[]) => Promise<void>;
    await new AsyncFunction("readFile", "verifyQuote", "console", code)(readVector, verifyQuote, {
      log: (...a: unknown[]) => logged.push(a),
    });
    expect(code).toContain('console.log(q.ok, q.tcbStatus, q.advisoryIds); // true "UpToDate" []');
    expect(logged).toEqual([[true, "UpToDate", []]]);
  });
  it("the quote CLI example", async () => {
    const line = readme.split("\n").find((l) => l.startsWith("zerog-verify quote tdx_quote"));
    const argv = (line as string).split(/\s+/).slice(1);
    const out: string[] = [];
    const code = await runCli(argv, {
      readFile: (p) => new Uint8Array(readFileSync(new URL(p, vectors))),
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      now: () => 0,
    });
    expect(code).toBe(0);
    expect(JSON.parse(out.join(""))).toMatchObject({ ok: true, tcbStatus: "UpToDate" });
  });
});
