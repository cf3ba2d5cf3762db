import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));

/** `npm start` from the repository root, as a process manager would run it. */
function npmStart(options: { demo?: boolean; db?: string } = {}): {
  npm: ChildProcess;
  address: Promise<{ host: string; port: number }>;
  output: () => string;
} {
  const db = options.db ?? join(mkdtempSync(join(tmpdir(), "zerog-npm-start-")), "jobs.db");
  const npm = spawn("npm", ["start", "--", "--port", "0", "--db", db, "--log-level", "warn"], {
    cwd: root,
    env: { ...process.env, ZEROG_NO_DEMO: options.demo ? "" : "1", ZEROG_API_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const address = new Promise<{ host: string; port: number }>((resolve, reject) => {
    npm.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /serving ComputeService on ([\d.]+):(\d+)/.exec(out);
      if (m) resolve({ host: m[1]!, port: Number(m[2]) });
    });
    npm.once("exit", (code) => reject(new Error(`npm start exited (${code}) before serving:\n${out}`)));
  });
  return { npm, address, output: () => out };
}

function accepts(address: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(address.port, address.host);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started) p.kill("SIGKILL");
  started.length = 0;
});

describe("npm start's demo", () => {
  it("verifies under the devnet's policy, says its root is the devnet's test root, and prints a command that re-verifies the result as printed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "zerog-npm-demo-"));
    const { npm, output } = npmStart({ demo: true, db: join(dir, "jobs.db") });
    started.push(npm);
    expect(await until(async () => /Serving until Ctrl-C/.test(output()), 110_000), output()).toBe(true);
    const out = output();
    expect(out).toContain("verification: verified");
    expect(out).toContain("the devnet's synthetic TEST root CA");
    expect(out).toContain("NOT Intel's SGX Root CA");
    const command = /^ {2}(npx zerog-verify proof .*)$/m.exec(out)?.[1] as string;
    expect(command).toBe(
      `npx zerog-verify proof ${join(dir, "demo-result.json")} --policy ${join(dir, "devnet-policy.json")}`,
    );
    const verified = spawnSync("/bin/sh", ["-c", command], { cwd: root, encoding: "utf8" });
    expect(verified.status, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^VALID proof\n/);
  }, 120_000);
});

describe("npm start behind a process manager", () => {
  it.each(["SIGTERM", "SIGINT", "SIGKILL"] as const)(
    "%s to the npm process stops the bridge: nothing is left serving",
    async (signal) => {
      const { npm, address } = npmStart();
      started.push(npm);
      const bound = await address;
      expect(await accepts(bound)).toBe(true);
      npm.kill(signal);
      await once(npm, "exit");
      // With SIGKILL npm cannot forward anything: the bridge notices it was orphaned.
      expect(await until(async () => !(await accepts(bound)), 15_000)).toBe(true);
    },
    120_000,
  );
});
