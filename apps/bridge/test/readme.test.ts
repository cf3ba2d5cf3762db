import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "./harness.js";

/**
 * The marked examples of the bridge's and the adapter's READMEs, run as printed: each `server`
 * block in a folder of its own (the repository's apps/ and packages/ linked in, as from the
 * repository root, and the adapter installed), then the `client` blocks of its name against it (sh
 * with bash, js as a module with node). Only the port differs: the bridge takes a free one
 * (ZEROG_BRIDGE_PORT) and the clients' 50051 is replaced by it.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));
const readmes = ["apps/bridge/README.md", "packages/adapter/README.md"].map((f) =>
  readFileSync(join(root, f), "utf8"),
);

function blocks(kind: "server" | "client", name: string): Array<{ lang: "sh" | "js"; code: string }> {
  const pattern = new RegExp(
    `<!-- readme-test: ${kind} ${name} -->\\n\`\`\`(sh|js)\\n([\\s\\S]*?)\`\`\``,
    "g",
  );
  return readmes.flatMap((readme) =>
    [...readme.matchAll(pattern)].map((m) => ({ lang: m[1] as "sh" | "js", code: m[2]! })),
  );
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
  const script = blocks("server", name)[0]?.code;
  if (!script) throw new Error(`no server block ${name}`);
  const dir = mkdtempSync(join(tmpdir(), `zerog-readme-${name}-`));
  for (const link of ["apps", "packages"]) symlinkSync(join(root, link), join(dir, link));
  // The repository's tools (npx buf), and the adapter as a user installs it.
  mkdirSync(join(dir, "node_modules", "@chaoschain"), { recursive: true });
  for (const entry of readdirSync(join(root, "node_modules")))
    if (entry !== "@chaoschain")
      symlinkSync(join(root, "node_modules", entry), join(dir, "node_modules", entry));
  symlinkSync(join(root, "packages", "adapter"), join(dir, "node_modules", "@chaoschain", "zerog-adapter"));
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
  for (const [i, { lang, code }] of blocks("client", name).entries()) {
    const script = code.replaceAll("50051", String(at.port));
    // As the adapter README's quick start says for a devnet bridge: its policy, which the bridge wrote
    // next to its job database.
    const env = {
      ...process.env,
      ZEROG_API_KEY: "",
      ZEROG_VERIFY_POLICY: join(at.dir, "devnet-policy.json"),
    };
    if (lang === "js") writeFileSync(join(at.dir, `example-${i}.mjs`), script);
    const { stdout } =
      lang === "sh"
        ? await run("bash", ["-euo", "pipefail", "-c", script], { cwd: at.dir, env })
        : await run(process.execPath, [`example-${i}.mjs`], { cwd: at.dir, env });
    out += stdout;
  }
  return out;
}

describe("README examples (apps/bridge, packages/adapter)", () => {
  it("TLS: a self-signed certificate, the health check, curl, the zerog CLI and the adapter over TLS", async () => {
    expect(blocks("client", "tls")).toHaveLength(2);
    const out = await runClients("tls", await startServer("tls"));
    expect(out).toContain("SERVING\n");
    expect(out).toContain('{"status":"SERVING"}');
    expect(out).toContain("llama-3-8b");
    // The adapter README's: an inference over grpcs:// with the certificate as caFile.
    expect(out).toContain("llama-3-8b (0G devnet) heard: What is blockchain?\n");
  });

  it("API keys: a keys file (a key, a SHA-256), calls with and without a key, metrics, reflection, retries", async () => {
    expect(blocks("client", "keys")).toHaveLength(4);
    const out = await runClients("keys", await startServer("keys"));
    // (curl prints the JSON bodies without a newline.)
    expect(out).toMatch(/^\{\}\{\}401\n/);
    expect(out).toContain('zerog_jobs{state="queued"} 0');
    expect(out).toContain("chaoschain.zerog.v1.ComputeService/CancelJob\n");
    expect(out).toMatch(/"model": "llama-3-8b"/);
    // The adapter README's: 15 calls at once through the key's limit, waiting as told.
    expect(out).toMatch(/\n15\n$/);
  });
});
