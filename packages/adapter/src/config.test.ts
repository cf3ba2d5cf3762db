import { describe, expect, it } from "vitest";
import { baseUrlFromGrpcUrl, resolveConfig } from "./config.js";

describe("resolveConfig", () => {
  it("takes options first, then ZEROG_* variables, then defaults", () => {
    expect(resolveConfig({}, {})).toEqual({
      baseUrl: "http://localhost:50051",
      timeoutSeconds: 300,
      maxRequestBytes: 8 * 1024 * 1024,
      maxResponseBytes: 64 * 1024 * 1024,
      verify: { policySource: "Intel's default policy" },
    });
    expect(resolveConfig({}, { ZEROG_API_KEY: "k1" }).apiKey).toBe("k1");
    expect(resolveConfig({ apiKey: "k2" }, { ZEROG_API_KEY: "k1" }).apiKey).toBe("k2");
    const env = {
      ZEROG_GRPC_URL: "bridge:6000",
      ZEROG_API_KEY: "k1",
      ZEROG_TIMEOUT_SECONDS: "60",
      ZEROG_MAX_REQUEST_BYTES: "1000",
    };
    expect(resolveConfig({}, env)).toEqual({
      baseUrl: "http://bridge:6000",
      timeoutSeconds: 60,
      maxRequestBytes: 1000,
      maxResponseBytes: 64 * 1024 * 1024,
      verify: { policySource: "Intel's default policy" },
    });
    expect(resolveConfig({ grpcUrl: "https://zerog.example", apiKey: "k2", timeoutSeconds: 5 }, env)).toEqual(
      {
        baseUrl: "https://zerog.example",
        timeoutSeconds: 5,
        maxRequestBytes: 1000,
        maxResponseBytes: 64 * 1024 * 1024,
        verify: { policySource: "Intel's default policy" },
      },
    );
  });

  it("verifies by default; the policy comes from verify.policy, else the file ZEROG_VERIFY_POLICY names", () => {
    const files: Record<string, string> = {
      "p.json": '{"tee":{"allowedTcbStatuses":["UpToDate","SWHardeningNeeded"]}}',
    };
    const read = (path: string) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
      return text;
    };
    const env = { ZEROG_VERIFY_POLICY: "p.json" };
    expect(resolveConfig({}, env, read).verify).toEqual({
      policy: { tee: { allowedTcbStatuses: ["UpToDate", "SWHardeningNeeded"] } },
      policySource: "the policy in p.json (ZEROG_VERIFY_POLICY)",
    });
    expect(resolveConfig({ verify: { policy: { strict: true } } }, env, read).verify).toEqual({
      policy: { strict: true },
      policySource: "verify.policy",
    });
    expect(resolveConfig({ verify: false }, env, read).verify).toBe(false);
    // Browsers have no file to read: the variable is not theirs.
    expect(resolveConfig({}, env).verify).toEqual({ policySource: "Intel's default policy" });
    expect(() => resolveConfig({}, { ZEROG_VERIFY_POLICY: "nope.json" }, read)).toThrow(
      "ZEROG_VERIFY_POLICY names nope.json, which cannot be read: ENOENT",
    );
    files["bad.json"] = "{";
    expect(() => resolveConfig({}, { ZEROG_VERIFY_POLICY: "bad.json" }, read)).toThrow(/is not JSON/);
    expect(() => resolveConfig({ verify: { policy: { tee: { root: 1 } } as never } }, {})).toThrow(
      /verify.policy is not a valid verifier policy: Invalid policy.tee.root: unknown field/,
    );
    expect(() => resolveConfig({ verify: "yes" as never }, {})).toThrow(/verify must be false or/);
  });

  it("treats an empty API key as none", () => {
    expect(resolveConfig({}, { ZEROG_API_KEY: "" }).apiKey).toBeUndefined();
  });

  it("refuses an API key no header can carry, without printing it; trims the whitespace around it", () => {
    // Before: a key with a newline failed every call with Headers.set's TypeError, the key in its message.
    for (const apiKey of ["sk-sec\nret", "sk-sec ret", "sk-s\u00e9cret", "sk-secret\u0000"]) {
      const err = (() => {
        try {
          resolveConfig({ apiKey }, {});
        } catch (e) {
          return e as Error;
        }
      })();
      expect(err).toBeInstanceOf(TypeError);
      expect(err?.message).toMatch(/^apiKey \/ ZEROG_API_KEY must be one token of visible ASCII/);
      expect(err?.message).not.toContain("sec");
    }
    expect(() => resolveConfig({ apiKey: 42 as never }, {})).toThrow(
      /apiKey \/ ZEROG_API_KEY must be a string/,
    );
    expect(resolveConfig({}, { ZEROG_API_KEY: " sk-secret\r\n" }).apiKey).toBe("sk-secret");
  });

  it("keeps the API key out of util.inspect and JSON of the config", () => {
    const config = resolveConfig({ apiKey: "sk-very-secret" }, {});
    expect(config.apiKey).toBe("sk-very-secret");
    expect(JSON.stringify(config)).not.toContain("sk-very-secret");
    expect({ ...config }).not.toHaveProperty("apiKey");
  });

  it("refuses an address with a user or password (printed in every error) or a query (sent as the path)", () => {
    expect(() => resolveConfig({ grpcUrl: "https://user:pa55@bridge.example" }, {})).toThrow(
      /^grpcUrl \/ ZEROG_GRPC_URL must not carry a user or password: give the key as apiKey \/ ZEROG_API_KEY$/,
    );
    expect(() => resolveConfig({ grpcUrl: "bridge.example:50051?tls=1" }, {})).toThrow(
      /grpcUrl \/ ZEROG_GRPC_URL must not carry a query or fragment/,
    );
    expect(() => resolveConfig({ grpcUrl: "http://h:1/#x" }, {})).toThrow(/query or fragment/);
    expect(resolveConfig({ grpcUrl: "https://h.example/zerog/" }, {}).baseUrl).toBe(
      "https://h.example/zerog",
    );
    expect(resolveConfig({ grpcUrl: "[::1]:50051" }, {}).baseUrl).toBe("http://[::1]:50051");
    // Before: "unix:/run/zerog.sock" became host "unix" (a DNS failure later), "ftp://h:1" host "ftp".
    for (const grpcUrl of [
      "unix:/run/zerog.sock",
      "unix:///run/zerog.sock",
      "dns:///bridge:50051",
      "ftp://h:1",
    ]) {
      expect(() => resolveConfig({ grpcUrl }, {})).toThrow(
        /^grpcUrl \/ ZEROG_GRPC_URL: the scheme \w+: is not supported; give host:port, http\(s\):\/\/ or grpc\(s\):\/\//,
      );
    }
    expect(resolveConfig({ grpcUrl: "GRPCS://h.example" }, {}).baseUrl).toBe("https://h.example");
  });

  it("names the setting when a value is malformed", () => {
    expect(() => resolveConfig({ timeoutSeconds: 0 }, {})).toThrow(/timeoutSeconds/);
    expect(() => resolveConfig({}, { ZEROG_TIMEOUT_SECONDS: "soon" })).toThrow(/ZEROG_TIMEOUT_SECONDS/);
    // Longer than a timer waits (24.8 days): Node would fire it after 1 ms, failing every call at once.
    expect(() => resolveConfig({ timeoutSeconds: 3_000_000 }, {})).toThrow(/at most 2147483/);
    expect(() => resolveConfig({}, { ZEROG_TIMEOUT_SECONDS: "3e6" })).toThrow(
      /ZEROG_TIMEOUT_SECONDS.*at most/,
    );
    expect(resolveConfig({ timeoutSeconds: 2_147_483 }, {}).timeoutSeconds).toBe(2_147_483);
    expect(() => resolveConfig({ grpcUrl: "bad host:50051" }, {})).toThrow(/ZEROG_GRPC_URL/);
    expect(() => resolveConfig({}, { ZEROG_MAX_REQUEST_BYTES: "big" })).toThrow(/ZEROG_MAX_REQUEST_BYTES/);
    expect(resolveConfig({}, { ZEROG_MAX_RESPONSE_BYTES: "1000" }).maxResponseBytes).toBe(1000);
    expect(() => resolveConfig({}, { ZEROG_MAX_RESPONSE_BYTES: "big" })).toThrow(/ZEROG_MAX_RESPONSE_BYTES/);
    expect(() => resolveConfig({ maxResponseBytes: 2 ** 32 }, {})).toThrow(
      /maxResponseBytes .*up to 4294967295/,
    );
    expect(() => resolveConfig({ maxResponseBytes: 1.5 }, {})).toThrow(/whole number/);
    expect(() => resolveConfig(null as never, {})).toThrow(/options must be an object/);
  });
});

describe("baseUrlFromGrpcUrl", () => {
  it.each([
    ["localhost:50051", "http://localhost:50051"],
    ["127.0.0.1:50051/", "http://127.0.0.1:50051"],
    ["http://h:1", "http://h:1"],
    ["https://h", "https://h"],
    ["grpc://h:1", "http://h:1"],
    ["grpcs://h", "https://h"],
  ])("%s → %s", (input, expected) => expect(baseUrlFromGrpcUrl(input)).toBe(expected));
});
