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
