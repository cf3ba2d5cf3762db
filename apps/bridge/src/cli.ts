import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { format } from "node:util";
import { ConfigError, loadConfig, usage } from "./config.js";
import { runDemo } from "./demo.js";
import { healthCheck } from "./health-check.js";
import { launch } from "./launcher.js";
import { createLogger } from "./logger.js";

/** `zerog-bridge start [options]`: serves until SIGINT or SIGTERM, then stops gracefully and exits 0. */
export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [command = "start", ...rest] = argv;
  if (command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  if (command === "-V" || command === "--version" || command === "version") {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    process.stdout.write(`zerog-bridge ${version}\n`);
    return 0;
  }
  if (command === "health") {
    const outcome = await healthCheck(rest, env);
    (outcome.code === 0 || outcome.code === 1 ? process.stdout : process.stderr).write(`${outcome.line}\n`);
    return outcome.code;
  }
  if (command !== "start") {
    process.stderr.write(`unknown command ${JSON.stringify(command)}\n\n${usage}\n`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(rest, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`zerog-bridge: ${err.message}\n\n${usage}\n`);
    return 2;
  }
  if (config === "help") {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  const forPeople = config.logFormat === "pretty" || (config.logFormat === "auto" && process.stderr.isTTY);
  // The 0G SDK prints progress with console.log; keep stdout for our own output.
  const sdkLog = logger.child({ src: "0g-sdk" });
  console.log = (...args: unknown[]) => sdkLog.debug(format(...args));
  console.warn = (...args: unknown[]) => sdkLog.warn(format(...args));

  // Progress of a slow start step, as a line for people (JSON logs say the same as log lines).
  let stepStarted = 0;
  const onProgress = (step: string) => {
    if (!forPeople) return;
    if (step === "done") process.stderr.write(`done (${((Date.now() - stepStarted) / 1000).toFixed(1)} s)\n`);
    else {
      stepStarted = Date.now();
      process.stderr.write(`${step}… `);
    }
  };
  // SIGHUP: read the API keys file and the TLS files again (and never die of it, not even while starting).
  let reload: (() => void) | undefined;
  process.on("SIGHUP", () => reload?.());
  const running = await launch(config, logger, { onProgress });
  reload = () => {
    const outcome = running.bridge.reload();
    if (!outcome.messages.length) logger.info("SIGHUP: nothing to reload (no --api-keys-file, no TLS)");
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    running.stop().then(
      // The SDK leaves 300 s receipt timers behind each transaction; nothing else is pending.
      () => process.exit(0),
      (err) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));

  const url = `${running.address.host}:${running.address.port}`;
  process.stdout.write(
    `zerog-bridge serving ComputeService on ${url} (gRPC, Connect, gRPC-web${config.tls ? ", TLS" : ""}; network ${config.network})\n`,
  );
  if (config.demo) {
    const ok = await runDemo({
      // With TLS, the certificate's own name; a self-signed certificate is its own CA.
      grpcUrl: config.tls ? `https://localhost:${running.address.port}` : url,
      caFile: config.tls?.certFile,
      apiKey: config.apiKey,
      policy: running.verification.policy,
      policyPath: running.devnetPolicyPath ?? config.verification.policyFile,
      devnetRootSha256: running.devnet ? running.verification.gate.checks.rootCaSha256 : undefined,
      resultPath: join(dirname(config.dbPath), "demo-result.json"),
      cwd: env.INIT_CWD ?? process.cwd(),
      out: process.stdout,
    });
    if (!ok) process.exitCode = 1;
  }
  process.stdout.write("Serving until Ctrl-C.\n");
  return -1;
}

const code = await main(process.argv.slice(2), process.env).catch((err: unknown) => {
  process.stderr.write(`zerog-bridge: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
});
if (code >= 0) process.exit(code);
