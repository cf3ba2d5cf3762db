import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "./harness.js";

/**
 * The README's marked examples, run as printed: each `server` block in a folder of its own (the
 * repository's apps/, packages/ and node_modules/ linked in, as from the repository root), then
 * its `client` blocks against it. Only the port differs: the bridge takes a free one
 * (ZEROG_BRIDGE_PORT) and the clients' 50051 is replaced by it.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));
const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");

function blocks(kind: "server" | "client", name: string): string[] {
  const pattern = new RegExp(`<!-- readme-test: ${kind} ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\``, "g");
  return [...readme.matchAll(pattern)].map((m) => m[1]!);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const servers: ChildProcess[] = [];
afterAll(async () => {
  for (const s of servers) {
    if (s.exitCode !== null || s.pid === undefined) continue;
    const exited = new Promise((resolve) => s.once("exit", resolve));
    process.kill(-s.pid, "SIGTERM");
    await exited;
  }
});

/** Starts a server block in a folder of its own; resolves with its folder and port once it serves. */
async function startServer(name: string): Promise<{ dir: string; port: number }> {
  const [script] = blocks("server", name);
  if (!script) throw new Error(`no server block ${name}`);
  const dir = mkdtempSync(join(tmpdir(), `zerog-readme-${name}-`));
  for (const link of ["apps", "packages", "node_modules"]) symlinkSync(join(root, link), join(dir, link));
  const port = await freePort();
  const server = spawn("bash", ["-euo", "pipefail", "-c", script], {
    cwd: dir,
    detached: true, // its own process group: bash and the bridge stop together
    env: {
      ...process.env,
      ZEROG_BRIDGE_PORT: String(port),
      ZEROG_DB_PATH: join(dir, "jobs.db"),
      ZEROG_API_KEY: "",
      ZEROG_LOG_LEVEL: "warn",
      // As from a shell: files relative to the folder (npm, running this test, sets INIT_CWD).
      INIT_CWD: dir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  servers.push(server);
  let out = "";
  server.stdout!.on("data", (d: Buffer) => {
    out += d;
  });
  server.stderr!.on("data", (d: Buffer) => {
    out += d;
  });
  await waitFor(
    () => {
      if (server.exitCode !== null) throw new Error(`the ${name} server block exited:\n${out}`);
      return out.includes("serving ComputeService on");
    },
    { timeoutMs: 60_000, what: `the ${name} server block to serve` },
  );
  return { dir, port };
}

async function runClients(name: string, at: { dir: string; port: number }): Promise<string> {
  let out = "";
  for (const script of blocks("client", name)) {
    const { stdout } = await run(
      "bash",
      ["-euo", "pipefail", "-c", script.replaceAll("50051", String(at.port))],
      {
        cwd: at.dir,
        env: { ...process.env, ZEROG_API_KEY: "" },
      },
    );
    out += stdout;
  }
  return out;
}

describe("apps/bridge/README.md examples", () => {
  it("TLS: a self-signed certificate, the health check, curl and the zerog CLI over https", async () => {
    expect(blocks("client", "tls")).toHaveLength(1);
    const out = await runClients("tls", await startServer("tls"));
    expect(out).toContain("SERVING\n");
    expect(out).toContain('{"status":"SERVING"}');
    expect(out).toContain("llama-3-8b");
  });

  it("API keys: a keys file (a key, a SHA-256), calls with and without a key, metrics, reflection", async () => {
    expect(blocks("client", "keys")).toHaveLength(3);
    const out = await runClients("keys", await startServer("keys"));
    // (curl prints the JSON bodies without a newline.)
    expect(out).toMatch(/^\{\}\{\}401\n/);
    expect(out).toContain('zerog_jobs{state="queued"} 0');
    expect(out).toContain("chaoschain.zerog.v1.ComputeService/CancelJob\n");
    expect(out).toMatch(/"model": "llama-3-8b"/);
  });
});
