import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";

const load = (argv: string[], env: Record<string, string> = {}) => {
  const config = loadConfig(argv, env);
  if (config === "help") throw new Error("help");
  return config;
};

describe("loadConfig: limits, CORS and host names", () => {
  it("has the documented defaults", () => {
    const c = load([]);
    expect([
      c.headerTimeoutSeconds,
      c.requestTimeoutSeconds,
      c.keepAliveTimeoutSeconds,
      c.idleTimeoutSeconds,
    ]).toEqual([30, 60, 5, 300]);
    expect([c.maxConnections, c.shutdownGraceSeconds, c.corsOrigins, c.allowedHosts]).toEqual([
      4096,
      10,
      undefined,
      [],
    ]);
  });

  it("reads flags before the environment", () => {
    const c = load(
      [
        "--header-timeout=2",
        "--max-connections",
        "10",
        "--cors-origin",
        "https://a.example, http://b.test:8080",
      ],
      {
        ZEROG_HEADER_TIMEOUT_SECONDS: "9",
        ZEROG_SHUTDOWN_GRACE_SECONDS: "3",
        ZEROG_ALLOWED_HOSTS: "bridge.internal,other",
      },
    );
    expect(c.headerTimeoutSeconds).toBe(2);
    expect(c.maxConnections).toBe(10);
    expect(c.shutdownGraceSeconds).toBe(3);
    expect(c.corsOrigins).toEqual(["https://a.example", "http://b.test:8080"]);
    expect(c.allowedHosts).toEqual(["bridge.internal", "other"]);
    expect(load(["--cors-origin=*"]).corsOrigins).toBe("*");
  });

  it("refuses values out of range and origins with a path", () => {
    expect(() => load(["--request-timeout=0"])).toThrow(ConfigError);
    expect(() => load(["--max-connections=many"])).toThrow("--max-connections must be an integer");
    expect(() => load(["--cors-origin=https://app.example/page"])).toThrow("--cors-origin takes origins");
  });

  it("takes numbers in decimal digits only: a blank, hex, exponent, sign or fraction is refused, never read as another number", () => {
    // Number(" ") is 0: a blank ZEROG_BRIDGE_PORT would listen on a random port.
    for (const port of [" ", "\t", "0x50", "5e4", "+80", "-0", "80.0", "8080\n"])
      expect(() => load([], { ZEROG_BRIDGE_PORT: port }), JSON.stringify(port)).toThrow(
        "--port must be an integer from 0 to 65535",
      );
    expect(() => load(["--max-request-bytes=1e6"])).toThrow("--max-request-bytes must be an integer");
    expect(() => load(["--max-connections=0x10"])).toThrow("--max-connections must be an integer");
    for (const rate of ["0x10", "1e3", " 5", "Infinity"])
      expect(() => load([`--rate-limit=${rate}`]), rate).toThrow("--rate-limit must be a number");
    expect(load(["--port=8080", "--rate-limit=0.5"])).toMatchObject({ port: 8080, rateLimit: 0.5 });
  });
});

describe("loadConfig: security and observability", () => {
  it("has the documented defaults", () => {
    const c = load([]);
    expect([c.tls, c.apiKeysFile, c.rateLimit, c.rateBurst, c.maxJobsInFlight]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect([
      c.maxRequestBytes,
      c.metrics,
      c.chainCheckSeconds,
      c.registryRefreshSeconds,
      c.logFormat,
    ]).toEqual([8 * 1024 * 1024, "auth", 15, 60, "auto"]);
  });

  it("reads the files relative to where npm was started, flags before the environment", () => {
    const c = load(
      ["--tls-cert=cert.pem", "--tls-key", "/abs/key.pem", "--rate-limit=2.5", "--metrics=public"],
      {
        INIT_CWD: "/srv/bridge",
        ZEROG_API_KEYS_FILE: "keys.json",
        ZEROG_RATE_LIMIT: "9",
        ZEROG_RATE_BURST: "5",
        ZEROG_MAX_JOBS_IN_FLIGHT: "3",
        ZEROG_MAX_REQUEST_BYTES: "65536",
        ZEROG_CHAIN_CHECK_SECONDS: "2",
        ZEROG_REGISTRY_REFRESH_SECONDS: "300",
        ZEROG_LOG_FORMAT: "json",
      },
    );
    expect(c.tls).toEqual({ certFile: "/srv/bridge/cert.pem", keyFile: "/abs/key.pem" });
    expect(c.apiKeysFile).toBe("/srv/bridge/keys.json");
    expect([c.rateLimit, c.rateBurst, c.maxJobsInFlight, c.maxRequestBytes]).toEqual([2.5, 5, 3, 65536]);
    expect([c.metrics, c.chainCheckSeconds, c.registryRefreshSeconds, c.logFormat]).toEqual([
      "public",
      2,
      300,
      "json",
    ]);
  });

  it.each([
    [["--tls-cert=c.pem"], "--tls-cert and --tls-key go together"],
    [["--rate-limit=0"], "--rate-limit must be a number"],
    [["--rate-limit=fast"], "--rate-limit must be a number"],
    [["--max-jobs-in-flight=0"], "--max-jobs-in-flight must be an integer"],
    [["--max-request-bytes=100"], "--max-request-bytes must be an integer from 1024"],
    [["--metrics=yes"], "--metrics must be auth, operator, public or off"],
    [["--log-format=xml"], "--log-format must be auto, json or pretty"],
    [["--chain-check-interval=0"], "--chain-check-interval must be an integer"],
    [["--registry-refresh=0"], "--registry-refresh must be an integer"],
  ])("refuses %j", (argv, message) => {
    expect(() => load(argv)).toThrow(message);
  });
});

describe("loadConfig: chain RPC limits", () => {
  it("has the documented defaults: 30 s and 32 MiB per chain RPC exchange", () => {
    const c = load([]);
    expect([c.rpcTimeoutSeconds, c.rpcMaxBytes]).toEqual([30, 32 * 1024 * 1024]);
  });

  it("reads flags before the environment", () => {
    const env = { ZEROG_RPC_TIMEOUT_SECONDS: "12", ZEROG_RPC_MAX_BYTES: "2097152" };
    expect(load([], env)).toMatchObject({ rpcTimeoutSeconds: 12, rpcMaxBytes: 2097152 });
    expect(load(["--rpc-timeout=5", "--rpc-max-bytes", "65536"], env)).toMatchObject({
      rpcTimeoutSeconds: 5,
      rpcMaxBytes: 65536,
    });
  });

  it("refuses a value out of range, with a unit, or blank, naming the flag", () => {
    for (const value of ["0", "1.5", "30s", "3601"])
      expect(() => load([`--rpc-timeout=${value}`]), value).toThrow(
        "--rpc-timeout must be an integer from 1 to 3600",
      );
    for (const value of ["100", "32MiB", "1e9", " "])
      expect(() => load([], { ZEROG_RPC_MAX_BYTES: value }), value).toThrow(
        "--rpc-max-bytes must be an integer from 1024 to 268435456",
      );
  });
});

describe("loadConfig: job store", () => {
  it("uses SQLite by default, Postgres with a database URL, and a 30 s lease", () => {
    const sqlite = load([]);
    expect([sqlite.databaseUrl, sqlite.leaseSeconds]).toEqual([undefined, 30]);
    expect(sqlite.dbPath).toMatch(/\.zerog\/jobs\.db$/);
    const pg = load(["--lease-seconds=5"], { ZEROG_DATABASE_URL: "postgres://bridge:pw@db:5432/jobs" });
    expect([pg.databaseUrl, pg.leaseSeconds]).toEqual(["postgres://bridge:pw@db:5432/jobs", 5]);
    expect(load(["--database-url=postgresql://db/jobs"]).databaseUrl).toBe("postgresql://db/jobs");
  });

  it("refuses a database URL that is not Postgres, or given with --db", () => {
    expect(() => load(["--database-url=mysql://db/jobs"])).toThrow(
      "must be a postgres:// or postgresql:// URL",
    );
    expect(() => load(["--db=jobs.db"], { ZEROG_DATABASE_URL: "postgres://db/jobs" })).toThrow(
      "give either --db (SQLite) or --database-url (Postgres), not both",
    );
    expect(() => load(["--lease-seconds=0"])).toThrow("--lease-seconds must be an integer from 1 to 3600");
  });
});

describe("loadConfig: job retention", () => {
  it("keeps ended jobs 30 days by default; takes days, hours, minutes or seconds, 0 for ever; the flag before the environment", () => {
    expect(load([]).jobRetentionSeconds).toBe(30 * 86_400);
    expect(load(["--job-retention", "12h"]).jobRetentionSeconds).toBe(12 * 3600);
    expect(load([], { ZEROG_JOB_RETENTION: "7d" }).jobRetentionSeconds).toBe(7 * 86_400);
    expect(load(["--job-retention=90m"], { ZEROG_JOB_RETENTION: "7d" }).jobRetentionSeconds).toBe(5400);
    expect(load(["--job-retention=3600"]).jobRetentionSeconds).toBe(3600);
    expect(load(["--job-retention=45s"]).jobRetentionSeconds).toBe(45);
    expect(load(["--job-retention=0"]).jobRetentionSeconds).toBe(0);
    expect(load([], { ZEROG_JOB_RETENTION: "" }).jobRetentionSeconds).toBe(30 * 86_400);
  });

  it.each([
    ["-1"],
    ["1.5d"],
    ["30 days"],
    ["30x"],
    ["forever"],
    ["d"],
    ["0x10"],
    ["1e3"],
    ["99999999999999999999d"],
  ])("refuses %j naming the flag and its variable", (value) => {
    for (const config of [
      () => load([`--job-retention=${value}`]),
      () => load([], { ZEROG_JOB_RETENTION: value }),
    ])
      expect(config).toThrow(
        /^--job-retention \(ZEROG_JOB_RETENTION\) must be a duration such as 30d, 12h, 90m or 3600 \(seconds\), or 0 to keep ended jobs for ever; got "/,
      );
  });
});

describe("loadConfig: TEE verification", () => {
  const dir = mkdtempSync(join(tmpdir(), "zerog-config-"));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it("checks quotes by default: no policy file (Intel's defaults), Intel's PCS, nothing skipped", () => {
    expect(load([]).verification).toEqual({
      policy: undefined,
      policyFile: undefined,
      pccsUrl: undefined,
      skipQuote: false,
    });
  });

  it("reads --policy and --pccs-url (or their variables) and the unsafe switch", () => {
    const policy = file("p.json", '{"tee":{"allowedTcbStatuses":["UpToDate","SWHardeningNeeded"]}}');
    const c = load([
      "--policy",
      policy,
      "--pccs-url",
      "https://pccs.internal:8081",
      "--unsafe-skip-quote-verification",
    ]);
    expect(c.verification).toEqual({
      policy: { tee: { allowedTcbStatuses: ["UpToDate", "SWHardeningNeeded"] } },
      policyFile: policy,
      pccsUrl: "https://pccs.internal:8081",
      skipQuote: true,
    });
    const e = load([], {
      ZEROG_VERIFY_POLICY: policy,
      ZEROG_PCCS_URL: "http://127.0.0.1:8081",
      ZEROG_UNSAFE_SKIP_QUOTE_VERIFICATION: "1",
    });
    expect(e.verification).toMatchObject({
      policyFile: policy,
      pccsUrl: "http://127.0.0.1:8081",
      skipQuote: true,
    });
    expect(load([], { ZEROG_UNSAFE_SKIP_QUOTE_VERIFICATION: "0" }).verification.skipQuote).toBe(false);
  });

  it("refuses a policy the verifier would refuse, a PCCS URL that is not http(s), and the old --collateral", () => {
    expect(() => load(["--policy", file("bad.json", '{"tee":{"mrtd":[]}}')])).toThrow(
      /--policy .*bad.json is not a valid verifier policy: Invalid policy.tee.mrtd: empty allow-list/,
    );
    expect(() => load(["--policy", join(dir, "missing.json")])).toThrow(/--policy .*missing.json: ENOENT/);
    expect(() => load(["--pccs-url", "ftp://pccs"])).toThrow("--pccs-url must be an http(s) URL");
    expect(() => load(["--collateral", "c.json"])).toThrow(
      /--collateral .* is gone: the bridge fetches current collateral itself/,
    );
  });
});

describe("loadConfig: fine-tuning", () => {
  it("defaults: artifacts and datasets under .zerog, no https datasets, a 5 s poll, 24 h runs, 2 h downloads", () => {
    const c = load([], { INIT_CWD: "/srv/bridge" });
    expect(c.fineTuning).toEqual({
      artifactsDir: "/srv/bridge/.zerog/artifacts",
      datasetDir: "/srv/bridge/.zerog/datasets",
      httpsHosts: [],
      pollIntervalMs: 5000,
      maxRunSeconds: 86_400,
      downloadTimeoutSeconds: 7200,
    });
  });

  it("the run and download limits take durations; they cannot be switched off", () => {
    const c = load(["--fine-tuning-max-run=36h"], { ZEROG_FINE_TUNING_DOWNLOAD_TIMEOUT: "90m" });
    expect(c.fineTuning).toMatchObject({ maxRunSeconds: 129_600, downloadTimeoutSeconds: 5400 });
    expect(load([], { ZEROG_FINE_TUNING_MAX_RUN: "600" }).fineTuning.maxRunSeconds).toBe(600);
    expect(() => load(["--fine-tuning-max-run=0"])).toThrow(
      '--fine-tuning-max-run (ZEROG_FINE_TUNING_MAX_RUN) must be at least 1s; got "0"',
    );
    expect(() => load(["--fine-tuning-download-timeout=soon"])).toThrow(
      /^--fine-tuning-download-timeout \(ZEROG_FINE_TUNING_DOWNLOAD_TIMEOUT\) must be a duration such as 30d, 12h, 90m or 3600 \(seconds\), at least 1s; got "soon"$/,
    );
  });

  it("flags before the environment; a poll out of range is refused", () => {
    const c = load(["--artifacts-dir=/models", "--dataset-https-hosts", "data.example, cdn.example"], {
      ZEROG_ARTIFACTS_DIR: "/elsewhere",
      ZEROG_DATASET_DIR: "/datasets",
      ZEROG_FINE_TUNING_POLL_MS: "250",
    });
    expect(c.fineTuning).toEqual({
      artifactsDir: "/models",
      datasetDir: "/datasets",
      httpsHosts: ["data.example", "cdn.example"],
      pollIntervalMs: 250,
      maxRunSeconds: 86_400,
      downloadTimeoutSeconds: 7200,
    });
    expect(() => load(["--fine-tuning-poll=1"])).toThrow(ConfigError);
  });
});
