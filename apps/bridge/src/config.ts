import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { INTEL_PCS_URL, type PolicyInput, resolvePolicy } from "@chaoschain/zerog-verifier";
import type { MetricsAccess } from "./http/rpc-handler.js";
import type { TlsFiles } from "./http/tls.js";
import { defaultJobRetentionSeconds } from "./jobs/retention.js";
import type { LogFormat } from "./logger.js";
import { defaultServerLimits } from "./server.js";
import { defaultRpcLimits } from "./zerog/chain-rpc.js";
import type { ZeroGContracts } from "./zerog/sdk.js";

export type NetworkName = "devnet" | "testnet" | "mainnet" | "custom";

/** How quotes and proofs are checked (`--policy`, `--pccs-url`, `--unsafe-skip-quote-verification`). */
export interface VerificationConfig {
  /** `--policy`: the verifier policy over the defaults (Intel root, TDX, UpToDate); on the devnet, its own. */
  policy: PolicyInput | undefined;
  /** The file `policy` was read from, for messages. */
  policyFile: string | undefined;
  /** `--pccs-url`: Intel's PCS or a PCCS; default Intel's PCS (the devnet: its PCCS simulator). */
  pccsUrl: string | undefined;
  /** `--unsafe-skip-quote-verification`: quotes are not checked, and every result says so. */
  skipQuote: boolean;
}

/** Everything `zerog-bridge start` needs, from flags, then environment, then defaults. */
export interface BridgeConfig {
  host: string;
  port: number;
  apiKey: string | undefined;
  dbPath: string;
  /** Postgres for the jobs instead of `dbPath`, shared with other bridges; holds a password: never log it. */
  databaseUrl: string | undefined;
  /** How long a running job stays a bridge's without renewal before another may take it over, seconds. */
  leaseSeconds: number;
  /** Ended jobs (and their results) are deleted this long after they ended, seconds; 0 keeps them for ever. */
  jobRetentionSeconds: number;
  concurrency: number;
  /** Longest wait for one provider call before retrying or failing over, seconds. */
  providerTimeoutSeconds: number;
  network: NetworkName;
  /** Chain RPC for testnet, mainnet and custom (testnet/mainnet default to 0G's public RPC). */
  rpcUrl: string | undefined;
  /** Longest chain RPC exchange, from the request to the last byte of its answer, seconds. */
  rpcTimeoutSeconds: number;
  /** Largest chain RPC answer read, bytes; a larger one fails its call. */
  rpcMaxBytes: number;
  /** Wallet private key for testnet, mainnet and custom; never logged. */
  walletKey: string | undefined;
  /** Contract addresses for a custom network. */
  contracts: ZeroGContracts | undefined;
  /** Gas price in neuron; unset asks the chain. */
  gasPrice: number | undefined;
  /** How the bridge checks every provider's TEE quote and every proof before it keeps a result. */
  verification: VerificationConfig;
  demo: boolean;
  logLevel: string;
  /** A connection must send a complete request head within this, seconds. */
  headerTimeoutSeconds: number;
  /** A request body must arrive within this after its head, seconds. */
  requestTimeoutSeconds: number;
  /** An idle HTTP/1.1 connection is closed after this, seconds. */
  keepAliveTimeoutSeconds: number;
  /** An HTTP/2 session with no open stream is closed after this, seconds. */
  idleTimeoutSeconds: number;
  /** Connections served at once. */
  maxConnections: number;
  /** How long a stop (SIGTERM, SIGINT) may take, seconds. */
  shutdownGraceSeconds: number;
  /** Browser origins allowed to call ("*" for any); undefined: any with an API key, none without. */
  corsOrigins: "*" | string[] | undefined;
  /** Host names accepted besides loopback ones when listening on loopback (DNS rebinding protection). */
  allowedHosts: string[];

  // Security and limits
  /** TLS certificate chain and key files (PEM), reloaded on SIGHUP and change; cleartext without. */
  tls: TlsFiles | undefined;
  /** JSON file of API keys (ids, keys or their SHA-256, per-key limits), reloaded on SIGHUP and change. */
  apiKeysFile: string | undefined;
  /** Calls per second per API key (without keys: for all callers together); undefined: no limit. */
  rateLimit: number | undefined;
  /** Calls at once above the rate; default: the rate (one second's worth), at least 1. */
  rateBurst: number | undefined;
  /** Jobs queued or running per API key; undefined: no limit. */
  maxJobsInFlight: number | undefined;
  /** Largest request message, bytes. */
  maxRequestBytes: number;

  // Observability
  /** Who may read GET /metrics: auth (with an API key, when there are keys), public, off. */
  metrics: MetricsAccess;
  /** Seconds between chain RPC checks (health NOT_SERVING while it does not answer). */
  chainCheckSeconds: number;
  /**
   * Seconds between reads of the on-chain service registry (behind the calls using it; while the chain
   * cannot be read, the last read is used for up to 15 minutes more).
   */
  registryRefreshSeconds: number;
  /** Log lines: json, pretty (for people), auto (pretty when stderr is a terminal). */
  logFormat: LogFormat;

  /** Fine-tuning jobs. */
  fineTuning: {
    /** Where decrypted models are written (`<dir>/<job id>/`, 0700 folders, 0600 files). */
    artifactsDir: string;
    /** `file://` datasets must lie inside this directory. */
    datasetDir: string;
    /** Hosts `https://` datasets may come from ("*": any); empty refuses https datasets. */
    httpsHosts: string[];
    /** How often a running task's state is read from its provider, ms. */
    pollIntervalMs: number;
    /** Longest run of a task at its provider, from its creation to its delivery (restarts included), seconds. */
    maxRunSeconds: number;
    /** Longest download of a trained model, retries included, seconds. */
    downloadTimeoutSeconds: number;
  };
}

export const usage = `Usage: zerog-bridge start [options]

Serves chaoschain.zerog.v1.ComputeService (gRPC, Connect, gRPC-web) and runs jobs on 0G.

Options (environment variable in brackets):
  --network <name>        devnet (default: embedded local 0G devnet), testnet, mainnet, custom [ZEROG_NETWORK]
  --host <host>           listen address, default 127.0.0.1 [ZEROG_BRIDGE_HOST]
  --port <port>           listen port, default 50051 [ZEROG_BRIDGE_PORT]
  --db <file>             SQLite job store, default .zerog/jobs.db [ZEROG_DB_PATH]
  --database-url <url>    postgres://… job store instead, shared by several bridges [ZEROG_DATABASE_URL]
  --lease-seconds <s>     a running job whose bridge stops renewing it for this long is taken over by
                          another bridge on the same Postgres; default 30 [ZEROG_LEASE_SECONDS]
  --job-retention <d>     ended jobs are deleted with their results this long after they ended: 30d,
                          12h, 90m or seconds; 0 keeps them for ever; default 30d [ZEROG_JOB_RETENTION]
  --concurrency <n>       jobs run at once, default 16 [ZEROG_CONCURRENCY]
  --provider-timeout <s>  per provider call, then retry or fail over; default 60 [ZEROG_PROVIDER_TIMEOUT_SECONDS]
  --rpc-url <url>         0G chain RPC (testnet, mainnet, custom) [ZEROG_RPC_URL]
  --rpc-timeout <s>       longest chain RPC exchange, answer included; default 30 [ZEROG_RPC_TIMEOUT_SECONDS]
  --rpc-max-bytes <n>     largest chain RPC answer read; default 33554432 (32 MiB) [ZEROG_RPC_MAX_BYTES]
  --wallet-key-file <f>   file holding the wallet private key [ZEROG_WALLET_KEY_FILE]; or set ZEROG_WALLET_KEY
  --ledger <addr>         LedgerManager address (custom) [ZEROG_LEDGER_ADDRESS]
  --inference <addr>      InferenceServing address (custom) [ZEROG_INFERENCE_ADDRESS]
  --fine-tuning <addr>    FineTuningServing address (custom) [ZEROG_FINE_TUNING_ADDRESS]
  --gas-price <neuron>    fixed gas price [ZEROG_GAS_PRICE]
  --no-demo               do not run the demo job at start [ZEROG_NO_DEMO=1]

Fine-tuning:
  --artifacts-dir <dir>   where fine-tuned models are written, default .zerog/artifacts [ZEROG_ARTIFACTS_DIR]
  --dataset-dir <dir>     file:// datasets must lie inside it, default .zerog/datasets [ZEROG_DATASET_DIR]
  --dataset-https-hosts <list>
                          hosts https:// datasets may be fetched from, comma-separated, or * (any
                          public host); default none (https datasets refused) [ZEROG_DATASET_HTTPS_HOSTS]
  --fine-tuning-poll <ms> how often a running task's state is read from its provider; default 5000
                          [ZEROG_FINE_TUNING_POLL_MS]
  --fine-tuning-max-run <d>
                          longest run of a task at its provider, from its creation to its delivery,
                          restarts included; then it is cancelled there (while 0G allows it) and the job
                          fails: 30d, 12h, 90m or seconds; default 24h [ZEROG_FINE_TUNING_MAX_RUN]
  --fine-tuning-download-timeout <d>
                          longest download of a trained model, retries included; default 2h
                          [ZEROG_FINE_TUNING_DOWNLOAD_TIMEOUT]

TEE verification (every provider's quote is checked before it is trusted, every proof before its result is kept):
  --policy <file>         verifier policy (JSON) over the default: Intel's root CA, TDX, TCB UpToDate; GPU
                          evidence is checked when it has a "gpu" section [ZEROG_VERIFY_POLICY]. Default on
                          the devnet: the devnet's own policy (its synthetic test root)
  --pccs-url <url>        where Intel collateral is fetched: Intel's PCS (default, ${INTEL_PCS_URL})
                          or a PCCS with its v4 API; the devnet uses its PCCS simulator [ZEROG_PCCS_URL]
  --unsafe-skip-quote-verification
                          do NOT check TEE quotes (only the enclave's signature); every result then lists
                          "quote" in bridge_checks.skipped [ZEROG_UNSAFE_SKIP_QUOTE_VERIFICATION=1]

Limits (seconds unless noted):
  --header-timeout <s>    a connection must send a complete request head within this; default 30
                          [ZEROG_HEADER_TIMEOUT_SECONDS]
  --request-timeout <s>   a request body must arrive within this; default 60 [ZEROG_REQUEST_TIMEOUT_SECONDS]
  --keep-alive-timeout <s> idle HTTP/1.1 connections are closed after this; default 5
                          [ZEROG_KEEP_ALIVE_TIMEOUT_SECONDS]
  --idle-timeout <s>      HTTP/2 sessions with no open stream are closed after this; default 300
                          [ZEROG_IDLE_TIMEOUT_SECONDS]
  --max-connections <n>   connections served at once, more are refused; default 4096, lowered to fit
                          ulimit -n [ZEROG_MAX_CONNECTIONS]
  --shutdown-grace <s>    how long a stop may take; running jobs get all but the last second; default 10
                          [ZEROG_SHUTDOWN_GRACE_SECONDS]

Browsers and names:
  --cors-origin <list>    origins allowed to call from a browser, comma-separated, or *; default: any
                          origin with ZEROG_API_KEY, none without [ZEROG_CORS_ORIGIN]
  --allowed-hosts <list>  host names accepted besides localhost/127.0.0.1/::1 when listening on
                          loopback (DNS rebinding protection), comma-separated [ZEROG_ALLOWED_HOSTS]

Security (files are read again on SIGHUP and when they change):
  --tls-cert <file>       TLS certificate chain (PEM); with --tls-key, the port speaks TLS only
                          (ALPN h2 and http/1.1) [ZEROG_TLS_CERT]
  --tls-key <file>        its private key (PEM) [ZEROG_TLS_KEY]
  --api-keys-file <file>  JSON API keys with ids and per-key limits [ZEROG_API_KEYS_FILE]; or set
                          ZEROG_API_KEY for one key (id "default")
  --rate-limit <n>        calls per second per API key (all callers together without keys); default
                          none [ZEROG_RATE_LIMIT]
  --rate-burst <n>        calls at once above the rate; default the rate [ZEROG_RATE_BURST]
  --max-jobs-in-flight <n> jobs queued or running per API key; default none [ZEROG_MAX_JOBS_IN_FLIGHT]
  --max-request-bytes <n> largest request message; default 8388608 (8 MiB) [ZEROG_MAX_REQUEST_BYTES]

Observability:
  --metrics <access>      GET /metrics on the bridge's port: auth (default: with an API key when the
                          bridge has keys), operator (with an "allJobs" key), public, off [ZEROG_METRICS]
  --chain-check-interval <s> seconds between chain RPC checks (health NOT_SERVING while it does not
                          answer); default 15 [ZEROG_CHAIN_CHECK_SECONDS]
  --registry-refresh <s>  seconds between reads of the on-chain service registry (the last read is
                          used while the chain RPC is down); default 60 [ZEROG_REGISTRY_REFRESH_SECONDS]
  --log-level <level>     trace, debug, info (default), warn, error [ZEROG_LOG_LEVEL]
  --log-format <f>        json, pretty, auto (default: pretty when stderr is a terminal) [ZEROG_LOG_FORMAT]
  -h, --help              this text

Other commands:
  zerog-bridge health [--url <url>] [--ca-file <file>]
                          asks a bridge's grpc.health.v1 (default http://127.0.0.1:50051, or
                          ZEROG_BRIDGE_HOST/PORT, https with ZEROG_TLS_CERT); exit 0 SERVING, 1 not
  zerog-bridge --version

The bridge requires 'authorization: Bearer <key>' when ZEROG_API_KEY or --api-keys-file is set.`;

export class ConfigError extends Error {
  override name = "ConfigError";
}

function integer(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === "") return fallback;
  // Digits only: Number() would read " " as 0, "0x50" as 80, "5e4" as 50000.
  const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

const durationUnits: Record<string, number> = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 };

/** A duration in seconds from `30d`, `12h`, `90m`, `45s` or a number of seconds; at most 100 years. */
function durationSeconds(name: string, value: string | undefined, fallback: number, what: string): number {
  if (value === undefined || value === "") return fallback;
  const match = /^(\d{1,12})([smhd]?)$/.exec(value);
  const seconds = match ? Number(match[1]) * durationUnits[match[2]!]! : Number.NaN;
  if (!(seconds <= 100 * 365 * 86_400))
    throw new ConfigError(
      `${name} must be a duration such as 30d, 12h, 90m or 3600 (seconds)${what}; got ${JSON.stringify(value)}`,
    );
  return seconds;
}

/** {@link durationSeconds} of at least one second: a limit that cannot be switched off. */
function positiveDuration(name: string, value: string | undefined, fallback: number): number {
  const seconds = durationSeconds(name, value, fallback, ", at least 1s");
  if (seconds < 1) throw new ConfigError(`${name} must be at least 1s; got ${JSON.stringify(value)}`);
  return seconds;
}

function address(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^0x[0-9a-fA-F]{40}$/.test(value))
    throw new ConfigError(`${name} must be a 0x address, got ${JSON.stringify(value)}`);
  return value;
}

/** "a, b" → ["a", "b"]. */
function list(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function readJson(name: string, file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError(`${name} ${file}: ${(err as Error).message}`);
  }
}

function verificationConfig(
  policyFile: string | undefined,
  pccsUrl: string | undefined,
  skipQuote: boolean,
): VerificationConfig {
  let policy: PolicyInput | undefined;
  if (policyFile) {
    policy = readJson("--policy", policyFile) as PolicyInput;
    try {
      resolvePolicy(policy);
    } catch (err) {
      throw new ConfigError(
        `--policy ${policyFile} is not a valid verifier policy: ${(err as { shortMessage?: string }).shortMessage ?? (err as Error).message}`,
      );
    }
  }
  if (pccsUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(pccsUrl))
    throw new ConfigError(`--pccs-url must be an http(s) URL, got ${JSON.stringify(pccsUrl)}`);
  return { policy, policyFile: policyFile || undefined, pccsUrl: pccsUrl || undefined, skipQuote };
}

/** Parses `argv` (after the command) and `env`. Throws ConfigError with a message for the user. */
export function loadConfig(argv: string[], env: Record<string, string | undefined>): BridgeConfig | "help" {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        network: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        db: { type: "string" },
        "database-url": { type: "string" },
        "lease-seconds": { type: "string" },
        "job-retention": { type: "string" },
        concurrency: { type: "string" },
        "provider-timeout": { type: "string" },
        "rpc-url": { type: "string" },
        "rpc-timeout": { type: "string" },
        "rpc-max-bytes": { type: "string" },
        "wallet-key-file": { type: "string" },
        ledger: { type: "string" },
        inference: { type: "string" },
        "fine-tuning": { type: "string" },
        "gas-price": { type: "string" },
        policy: { type: "string" },
        "pccs-url": { type: "string" },
        "unsafe-skip-quote-verification": { type: "boolean" },
        collateral: { type: "string" },
        "no-demo": { type: "boolean" },
        "log-level": { type: "string" },
        "header-timeout": { type: "string" },
        "request-timeout": { type: "string" },
        "keep-alive-timeout": { type: "string" },
        "idle-timeout": { type: "string" },
        "max-connections": { type: "string" },
        "shutdown-grace": { type: "string" },
        "cors-origin": { type: "string" },
        "allowed-hosts": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "api-keys-file": { type: "string" },
        "rate-limit": { type: "string" },
        "rate-burst": { type: "string" },
        "max-jobs-in-flight": { type: "string" },
        "max-request-bytes": { type: "string" },
        metrics: { type: "string" },
        "chain-check-interval": { type: "string" },
        "registry-refresh": { type: "string" },
        "log-format": { type: "string" },
        "artifacts-dir": { type: "string" },
        "dataset-dir": { type: "string" },
        "dataset-https-hosts": { type: "string" },
        "fine-tuning-poll": { type: "string" },
        "fine-tuning-max-run": { type: "string" },
        "fine-tuning-download-timeout": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const f = parsed.values as Record<string, string | boolean | undefined>;
  if (f.help) return "help";
  const flag = (name: string) => f[name] as string | undefined;
  const network = (flag("network") ?? env.ZEROG_NETWORK ?? "devnet") as NetworkName;
  if (!["devnet", "testnet", "mainnet", "custom"].includes(network)) {
    throw new ConfigError(
      `--network must be devnet, testnet, mainnet or custom, got ${JSON.stringify(network)}`,
    );
  }
  const keyFile = flag("wallet-key-file") ?? env.ZEROG_WALLET_KEY_FILE;
  let walletKey = env.ZEROG_WALLET_KEY || undefined;
  if (keyFile) {
    try {
      walletKey = readFileSync(keyFile, "utf8").trim();
    } catch (err) {
      throw new ConfigError(
        `cannot read the wallet key file ${keyFile}: ${(err as NodeJS.ErrnoException).code}`,
      );
    }
  }
  if (walletKey !== undefined && !/^(0x)?[0-9a-fA-F]{64}$/.test(walletKey)) {
    throw new ConfigError("the wallet key (ZEROG_WALLET_KEY or --wallet-key-file) must be 32 bytes of hex");
  }
  if (network !== "devnet" && !walletKey) {
    throw new ConfigError(
      `--network ${network} needs a funded wallet: set ZEROG_WALLET_KEY or --wallet-key-file`,
    );
  }
  const ledger = address("--ledger", flag("ledger") ?? env.ZEROG_LEDGER_ADDRESS);
  const inference = address("--inference", flag("inference") ?? env.ZEROG_INFERENCE_ADDRESS);
  const fineTuning = address("--fine-tuning", flag("fine-tuning") ?? env.ZEROG_FINE_TUNING_ADDRESS);
  const rpcUrl = flag("rpc-url") ?? env.ZEROG_RPC_URL;
  if (network === "custom" && (!rpcUrl || !ledger || !inference || !fineTuning)) {
    throw new ConfigError("--network custom needs --rpc-url, --ledger, --inference and --fine-tuning");
  }
  const gasPrice = flag("gas-price") ?? env.ZEROG_GAS_PRICE;
  if (flag("collateral") ?? env.ZEROG_COLLATERAL)
    throw new ConfigError(
      "--collateral (ZEROG_COLLATERAL) is gone: the bridge fetches current collateral itself, from Intel's PCS or --pccs-url",
    );
  const verification = verificationConfig(
    flag("policy") ?? env.ZEROG_VERIFY_POLICY,
    flag("pccs-url") ?? env.ZEROG_PCCS_URL,
    Boolean(f["unsafe-skip-quote-verification"]) ||
      ["1", "true"].includes(env.ZEROG_UNSAFE_SKIP_QUOTE_VERIFICATION ?? ""),
  );
  const baseDir = env.INIT_CWD ?? process.cwd();
  const databaseUrl = flag("database-url") ?? (env.ZEROG_DATABASE_URL || undefined);
  if (databaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl))
      throw new ConfigError("--database-url (ZEROG_DATABASE_URL) must be a postgres:// or postgresql:// URL");
    if (flag("db") ?? (env.ZEROG_DB_PATH || undefined))
      throw new ConfigError("give either --db (SQLite) or --database-url (Postgres), not both");
  }
  const d = defaultServerLimits;
  const seconds = (name: string, envName: string, fallback: number, max: number) =>
    integer(`--${name}`, flag(name) ?? env[envName], fallback, 1, max);
  const corsOrigin = flag("cors-origin") ?? env.ZEROG_CORS_ORIGIN;
  const corsOrigins =
    corsOrigin === undefined || corsOrigin === ""
      ? undefined
      : corsOrigin.trim() === "*"
        ? "*"
        : list(corsOrigin);
  if (Array.isArray(corsOrigins)) {
    for (const origin of corsOrigins) {
      if (!/^https?:\/\/[^/\s]+$/.test(origin))
        throw new ConfigError(
          `--cors-origin takes origins such as https://app.example (no path), got ${JSON.stringify(origin)}`,
        );
    }
  }
  const file = (value: string | undefined) => (value ? resolve(baseDir, value) : undefined);
  const tlsCert = file(flag("tls-cert") ?? env.ZEROG_TLS_CERT);
  const tlsKey = file(flag("tls-key") ?? env.ZEROG_TLS_KEY);
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw new ConfigError("--tls-cert and --tls-key go together");
  const rateLimit = flag("rate-limit") ?? env.ZEROG_RATE_LIMIT;
  if (
    rateLimit &&
    !(/^\d{1,7}(\.\d{1,9})?$/.test(rateLimit) && Number(rateLimit) > 0 && Number(rateLimit) <= 1_000_000)
  )
    throw new ConfigError(
      `--rate-limit must be a number of calls per second above 0, got ${JSON.stringify(rateLimit)}`,
    );
  const optionalInteger = (name: string, envName: string) => {
    const value = flag(name) ?? env[envName];
    return value ? integer(`--${name}`, value, 0, 1, 1_000_000) : undefined;
  };
  const metrics = (flag("metrics") ?? env.ZEROG_METRICS ?? "auth") as MetricsAccess;
  if (!["auth", "operator", "public", "off"].includes(metrics))
    throw new ConfigError(`--metrics must be auth, operator, public or off, got ${JSON.stringify(metrics)}`);
  const logFormat = (flag("log-format") ?? env.ZEROG_LOG_FORMAT ?? "auto") as LogFormat;
  if (!["auto", "json", "pretty"].includes(logFormat))
    throw new ConfigError(`--log-format must be auto, json or pretty, got ${JSON.stringify(logFormat)}`);
  return {
    host: flag("host") ?? env.ZEROG_BRIDGE_HOST ?? "127.0.0.1",
    port: integer("--port", flag("port") ?? env.ZEROG_BRIDGE_PORT, 50051, 0, 65535),
    apiKey: env.ZEROG_API_KEY || undefined,
    dbPath: resolve(baseDir, flag("db") ?? (env.ZEROG_DB_PATH || ".zerog/jobs.db")),
    databaseUrl,
    leaseSeconds: integer("--lease-seconds", flag("lease-seconds") ?? env.ZEROG_LEASE_SECONDS, 30, 1, 3600),
    jobRetentionSeconds: durationSeconds(
      "--job-retention (ZEROG_JOB_RETENTION)",
      flag("job-retention") ?? env.ZEROG_JOB_RETENTION,
      defaultJobRetentionSeconds,
      ", or 0 to keep ended jobs for ever",
    ),
    concurrency: integer("--concurrency", flag("concurrency") ?? env.ZEROG_CONCURRENCY, 16, 1, 1024),
    providerTimeoutSeconds: integer(
      "--provider-timeout",
      flag("provider-timeout") ?? env.ZEROG_PROVIDER_TIMEOUT_SECONDS,
      60,
      1,
      3600,
    ),
    network,
    rpcUrl,
    rpcTimeoutSeconds: seconds(
      "rpc-timeout",
      "ZEROG_RPC_TIMEOUT_SECONDS",
      defaultRpcLimits.timeoutMs / 1000,
      3600,
    ),
    rpcMaxBytes: integer(
      "--rpc-max-bytes",
      flag("rpc-max-bytes") ?? env.ZEROG_RPC_MAX_BYTES,
      defaultRpcLimits.maxResponseBytes,
      1024,
      256 * 1024 * 1024,
    ),
    walletKey,
    contracts: ledger && inference && fineTuning ? { ledger, inference, fineTuning } : undefined,
    gasPrice: gasPrice ? integer("--gas-price", gasPrice, 0, 0, Number.MAX_SAFE_INTEGER) : undefined,
    verification,
    demo: !(f["no-demo"] || env.ZEROG_NO_DEMO === "1" || env.ZEROG_NO_DEMO === "true"),
    logLevel: flag("log-level") ?? env.ZEROG_LOG_LEVEL ?? "info",
    headerTimeoutSeconds: seconds(
      "header-timeout",
      "ZEROG_HEADER_TIMEOUT_SECONDS",
      d.headerTimeoutMs / 1000,
      3600,
    ),
    requestTimeoutSeconds: seconds(
      "request-timeout",
      "ZEROG_REQUEST_TIMEOUT_SECONDS",
      d.requestTimeoutMs / 1000,
      3600,
    ),
    keepAliveTimeoutSeconds: seconds(
      "keep-alive-timeout",
      "ZEROG_KEEP_ALIVE_TIMEOUT_SECONDS",
      d.keepAliveTimeoutMs / 1000,
      3600,
    ),
    idleTimeoutSeconds: seconds("idle-timeout", "ZEROG_IDLE_TIMEOUT_SECONDS", d.idleTimeoutMs / 1000, 86_400),
    maxConnections: integer(
      "--max-connections",
      flag("max-connections") ?? env.ZEROG_MAX_CONNECTIONS,
      d.maxConnections,
      1,
      1_000_000,
    ),
    shutdownGraceSeconds: seconds("shutdown-grace", "ZEROG_SHUTDOWN_GRACE_SECONDS", 10, 3600),
    corsOrigins,
    allowedHosts: list(flag("allowed-hosts") ?? env.ZEROG_ALLOWED_HOSTS ?? ""),
    tls: tlsCert && tlsKey ? { certFile: tlsCert, keyFile: tlsKey } : undefined,
    apiKeysFile: file(flag("api-keys-file") ?? env.ZEROG_API_KEYS_FILE),
    rateLimit: rateLimit ? Number(rateLimit) : undefined,
    rateBurst: optionalInteger("rate-burst", "ZEROG_RATE_BURST"),
    maxJobsInFlight: optionalInteger("max-jobs-in-flight", "ZEROG_MAX_JOBS_IN_FLIGHT"),
    maxRequestBytes: integer(
      "--max-request-bytes",
      flag("max-request-bytes") ?? env.ZEROG_MAX_REQUEST_BYTES,
      d.readMaxBytes,
      1024,
      64 * 1024 * 1024,
    ),
    metrics,
    chainCheckSeconds: seconds("chain-check-interval", "ZEROG_CHAIN_CHECK_SECONDS", 15, 3600),
    registryRefreshSeconds: seconds("registry-refresh", "ZEROG_REGISTRY_REFRESH_SECONDS", 60, 86_400),
    logFormat,
    fineTuning: {
      artifactsDir: resolve(baseDir, flag("artifacts-dir") ?? env.ZEROG_ARTIFACTS_DIR ?? ".zerog/artifacts"),
      datasetDir: resolve(baseDir, flag("dataset-dir") ?? env.ZEROG_DATASET_DIR ?? ".zerog/datasets"),
      httpsHosts: list(flag("dataset-https-hosts") ?? env.ZEROG_DATASET_HTTPS_HOSTS ?? ""),
      pollIntervalMs: integer(
        "--fine-tuning-poll",
        flag("fine-tuning-poll") ?? env.ZEROG_FINE_TUNING_POLL_MS,
        5000,
        10,
        600_000,
      ),
      maxRunSeconds: positiveDuration(
        "--fine-tuning-max-run (ZEROG_FINE_TUNING_MAX_RUN)",
        flag("fine-tuning-max-run") ?? env.ZEROG_FINE_TUNING_MAX_RUN,
        24 * 3600,
      ),
      downloadTimeoutSeconds: positiveDuration(
        "--fine-tuning-download-timeout (ZEROG_FINE_TUNING_DOWNLOAD_TIMEOUT)",
        flag("fine-tuning-download-timeout") ?? env.ZEROG_FINE_TUNING_DOWNLOAD_TIMEOUT,
        2 * 3600,
      ),
    },
  };
}
