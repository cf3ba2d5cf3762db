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
    expect([c.maxRequestBytes, c.metrics, c.chainCheckSeconds, c.logFormat]).toEqual([
      8 * 1024 * 1024,
      "auth",
      15,
      "auto",
    ]);
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
        ZEROG_LOG_FORMAT: "json",
      },
    );
    expect(c.tls).toEqual({ certFile: "/srv/bridge/cert.pem", keyFile: "/abs/key.pem" });
    expect(c.apiKeysFile).toBe("/srv/bridge/keys.json");
    expect([c.rateLimit, c.rateBurst, c.maxJobsInFlight, c.maxRequestBytes]).toEqual([2.5, 5, 3, 65536]);
    expect([c.metrics, c.chainCheckSeconds, c.logFormat]).toEqual(["public", 2, "json"]);
  });

  it.each([
    [["--tls-cert=c.pem"], "--tls-cert and --tls-key go together"],
    [["--rate-limit=0"], "--rate-limit must be a number"],
    [["--rate-limit=fast"], "--rate-limit must be a number"],
    [["--max-jobs-in-flight=0"], "--max-jobs-in-flight must be an integer"],
    [["--max-request-bytes=100"], "--max-request-bytes must be an integer from 1024"],
    [["--metrics=yes"], "--metrics must be auth, public or off"],
    [["--log-format=xml"], "--log-format must be auto, json or pretty"],
    [["--chain-check-interval=0"], "--chain-check-interval must be an integer"],
  ])("refuses %j", (argv, message) => {
    expect(() => load(argv)).toThrow(message);
  });
});
