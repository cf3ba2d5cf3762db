import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run, type Stack, startStack } from "./stack.js";

/**
 * The published packages as npm users get them: `pnpm pack` tarballs, their contents, and the
 * README examples run as printed from a fresh directory outside the workspace where the tarballs
 * (and their dependencies, from the npm cache or registry) are installed.
 */
const repo = fileURLToPath(new URL("../../../", import.meta.url));
const published = [
  { name: "@chaoschain/zerog-core", dir: "packages/core" },
  { name: "@chaoschain/zerog-verifier", dir: "packages/verifier" },
  { name: "@chaoschain/zerog-adapter", dir: "packages/adapter" },
];
const work = mkdtempSync(join(tmpdir(), "zerog-packed-"));
const tarballs = new Map<string, string>();
const contents = new Map<string, string[]>();

/** The first ```js block after `heading` in the adapter README. */
function readmeExample(heading: string): string {
  const readme = readFileSync(join(repo, "packages/adapter/README.md"), "utf8");
  const after = readme.slice(readme.indexOf(heading));
  const block = /```js\n([\s\S]*?)```/.exec(after)?.[1];
  if (!block) throw new Error(`no js example after ${heading}`);
  return block;
}

const fresh = join(work, "app");
let stack: Stack;
beforeAll(async () => {
  for (const p of published) {
    const out = execFileSync("pnpm", ["pack", "--pack-destination", work], {
      cwd: join(repo, p.dir),
      encoding: "utf8",
    });
    const file = out.trim().split("\n").at(-1) as string;
    tarballs.set(p.name, file);
    contents.set(
      p.name,
      execFileSync("tar", ["tzf", file], { encoding: "utf8" })
        .trim()
        .split("\n")
        .map((f) => f.replace(/^package\//, "")),
    );
  }
  execFileSync("mkdir", ["-p", fresh]);
  writeFileSync(
    join(fresh, "package.json"),
    JSON.stringify({
      name: "fresh-agent",
      private: true,
      dependencies: {
        ...Object.fromEntries(published.map((p) => [p.name, `file:${tarballs.get(p.name)}`])),
        "@chaoschain/sdk": "0.1.3",
      },
    }),
  );
  const install = await run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts"],
    { cwd: fresh },
  );
  if (install.code !== 0) throw new Error(`npm install failed:\n${install.stdout}${install.stderr}`);
  stack = await startStack();
}, 600_000);
afterAll(async () => {
  await stack?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("pnpm pack", () => {
  it.each(published)(
    "$name ships its build, sources, README and LICENSE, and nothing of its tests",
    ({ name, dir }) => {
      const files = contents.get(name) as string[];
      const manifest = JSON.parse(readFileSync(join(repo, dir, "package.json"), "utf8"));
      for (const f of [
        "package.json",
        "README.md",
        "LICENSE",
        "dist/index.js",
        "dist/index.d.ts",
        "src/index.ts",
      ]) {
        expect(files).toContain(f);
      }
      const targets = [
        ...Object.values(manifest.exports as Record<string, string | Record<string, string>>).flatMap((e) =>
          typeof e === "string" ? [e] : Object.values(e),
        ),
        ...Object.values((manifest.bin ?? {}) as Record<string, string>),
      ];
      for (const t of targets) expect(files).toContain(posix.normalize(t));
      const unwanted = files.filter((f) =>
        /\.test\.|\.test-d\.|__snapshots__|test-results|\.turbo|tsconfig|vitest\.config|^test\/|^bench\/|fixtures|\.tsbuildinfo/.test(
          f,
        ),
      );
      expect(unwanted).toEqual([]);
    },
  );

  it.each(published)("$name: every source map points at files in the package", ({ name }) => {
    const files = new Set(contents.get(name));
    const dir = join(work, name.replace("@chaoschain/", ""));
    execFileSync("mkdir", ["-p", dir]);
    execFileSync("tar", ["xzf", tarballs.get(name) as string, "-C", dir]);
    const maps = [...files].filter((f) => f.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(0);
    const dangling: string[] = [];
    for (const map of maps) {
      const { sources, sourcesContent } = JSON.parse(readFileSync(join(dir, "package", map), "utf8")) as {
        sources: string[];
        sourcesContent?: string[];
      };
      sources.forEach((s, i) => {
        if (sourcesContent?.[i]) return;
        const target = posix.normalize(posix.join(posix.dirname(map), s));
        if (!files.has(target)) dangling.push(`${map} → ${s}`);
      });
    }
    expect(dangling).toEqual([]);
  });
});

describe("installed from the tarballs in a fresh directory", () => {
  // As a user of the devnet sets them: its address, and its policy (npm start's .zerog/devnet-policy.json).
  const env = () => ({
    ZEROG_GRPC_URL: stack.grpcUrl,
    ZEROG_API_KEY: "",
    ZEROG_VERIFY_POLICY: stack.files.policy,
  });

  it("the README quick start runs as printed", async () => {
    writeFileSync(join(fresh, "quickstart.mjs"), readmeExample("## Quick start"));
    const { code, stdout, stderr } = await run(process.execPath, ["quickstart.mjs"], {
      cwd: fresh,
      env: env(),
    });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^Job submitted: job_\S+\nStatus: (pending|running|completed)\nOutput: llama-3-8b \(0G devnet\) heard: What is blockchain\?\nVerified: true\nProof method: tee-ml\nEnclave pubkey: 0x04[0-9a-f]{128}\nAttestation: \d{4,} bytes\n$/,
    );
  });

  it("the README's task check example runs as printed: skipped without the task, verified with it", async () => {
    writeFileSync(join(fresh, "task-check.mjs"), readmeExample("#### Which task a result answers"));
    const out = await run(process.execPath, ["task-check.mjs"], { cwd: fresh, env: env() });
    expect(out).toEqual({ code: 0, stdout: "skipped\nverified\n", stderr: "" });
  });

  it("the README's verification example runs as printed: verified under the devnet's policy, refused under Intel's", async () => {
    writeFileSync(join(fresh, "verification.mjs"), readmeExample("### Verification"));
    const devnet = await run(process.execPath, ["verification.mjs"], { cwd: fresh, env: env() });
    expect(devnet).toEqual({ code: 0, stdout: "llama-3-8b (0G devnet) heard: Hi UpToDate\n", stderr: "" });
    const intel = await run(process.execPath, ["verification.mjs"], {
      cwd: fresh,
      env: { ...env(), ZEROG_VERIFY_POLICY: "" },
    });
    expect(intel.code).toBe(0);
    expect(intel.stdout).toBe("");
    expect(intel.stderr).toMatch(
      /^untrusted_root the quote chains to an untrusted root CA "ChaosChain TEST SGX Root CA"/,
    );
  });

  it("the README's @chaoschain/sdk example runs as printed (CommonJS)", async () => {
    writeFileSync(join(fresh, "agent.cjs"), readmeExample("## With `@chaoschain/sdk`"));
    // The SDK's default Base Sepolia RPC is never called; point it at this machine all the same.
    const { code, stdout, stderr } = await run(process.execPath, ["agent.cjs"], {
      cwd: fresh,
      env: {
        ...env(),
        BASE_SEPOLIA_RPC_URL: "http://127.0.0.1:9",
      },
    });
    expect(stderr).not.toMatch(/Error|TEE attestation (failed|error|timeout)/);
    expect(code).toBe(0);
    expect(stdout).toContain("[ 'gpt-oss-120b', 'llama-3-8b' ]");
    expect(stdout).toMatch(/looked at 0G job_\S+ [0-9a-f]{64}\n$/);
  });

  it("require() loads every published package, and the zerog bin runs", async () => {
    const script = `
      const core = require("@chaoschain/zerog-core");
      const verifier = require("@chaoschain/zerog-verifier");
      const adapter = require("@chaoschain/zerog-adapter");
      const browser = require("@chaoschain/zerog-adapter/browser");
      console.log([typeof core.parseTask, typeof verifier.verifyProof, typeof adapter.ZeroGComputeAdapter,
        typeof browser.ZeroGComputeAdapter, adapter.ZeroGError === core.ZeroGError].join(" "));`;
    const required = await run(process.execPath, ["-e", script], { cwd: fresh });
    expect(required).toMatchObject({ code: 0, stdout: "function function function function true\n" });
    const version = JSON.parse(readFileSync(join(repo, "packages/adapter/package.json"), "utf8")).version;
    expect((await run(join(fresh, "node_modules/.bin/zerog"), ["--version"], { cwd: fresh })).stdout).toBe(
      `zerog ${version}\n`,
    );
    expect(
      (await run(join(fresh, "node_modules/.bin/zerog-verify"), ["--version"], { cwd: fresh })).code,
    ).toBe(0);
  });

  it("types resolve for node16, nodenext (ESM and require) and bundler; node10 finds nothing", async () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const use = `
      const zerog = new ZeroGComputeAdapter({ grpcUrl: "localhost:50051" });
      export async function main(): Promise<string> {
        const result = await zerog.result("job_1");
        const task: TaskInput = { task_type: "inference", model: "m", inputs: { prompt: "p" } };
        const parsed = parseTask(task);
        const report = await verifyProof({ output: result.output, proof: result.proof }, { now: 0 });
        return result.output + String(parsed.ok) + String(report.ok) + String(result.verification?.ok) + typeof Browser;
      }`;
    const esm = `import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
      import { ZeroGComputeAdapter as Browser } from "@chaoschain/zerog-adapter/browser";
      import { parseTask, type TaskInput } from "@chaoschain/zerog-core";
      import { verifyProof } from "@chaoschain/zerog-verifier";${use}`;
    const cjs = `import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
      import { ZeroGComputeAdapter as Browser } from "@chaoschain/zerog-adapter/browser";
      import { parseTask, type TaskInput } from "@chaoschain/zerog-core";
      import { verifyProof } from "@chaoschain/zerog-verifier";${use}`;
    writeFileSync(join(fresh, "esm.mts"), esm);
    writeFileSync(join(fresh, "cjs.cts"), cjs);
    writeFileSync(join(fresh, "bundled.ts"), esm);
    const check = (files: string[], module: string, resolution: string, extra: string[] = []) =>
      run(
        process.execPath,
        [
          tsc,
          "--noEmit",
          "--strict",
          "--skipLibCheck",
          "--target",
          "es2022",
          "--lib",
          "es2023,dom",
          "--module",
          module,
          "--moduleResolution",
          resolution,
          ...extra,
          ...files,
        ],
        { cwd: fresh },
      );
    for (const [files, module, resolution] of [
      [["esm.mts"], "node16", "node16"],
      [["esm.mts", "cjs.cts"], "nodenext", "nodenext"],
      [["bundled.ts"], "esnext", "bundler"],
    ] as const) {
      const r = await check([...files], module, resolution);
      expect(`${resolution}: ${r.stdout}`).toBe(`${resolution}: `);
      expect(r.code).toBe(0);
    }
    const node10 = await check(["bundled.ts"], "commonjs", "node10", ["--ignoreDeprecations", "6.0"]);
    expect(node10.stdout).toContain("Cannot find module '@chaoschain/zerog-adapter'");
  });
});
