import { describe, expect, it } from "vitest";
import { baseUrlFromGrpcUrl, resolveConfig } from "./config.js";

describe("resolveConfig", () => {
  it("takes options first, then ZEROG_* variables, then defaults", () => {
    expect(resolveConfig({}, {})).toEqual({
      baseUrl: "http://localhost:50051",
      apiKey: undefined,
      timeoutSeconds: 300,
      maxRequestBytes: 8 * 1024 * 1024,
      verify: undefined,
    });
    const env = {
      ZEROG_GRPC_URL: "bridge:6000",
      ZEROG_API_KEY: "k1",
      ZEROG_TIMEOUT_SECONDS: "60",
      ZEROG_MAX_REQUEST_BYTES: "1000",
    };
    expect(resolveConfig({}, env)).toEqual({
      baseUrl: "http://bridge:6000",
      apiKey: "k1",
      timeoutSeconds: 60,
      maxRequestBytes: 1000,
      verify: undefined,
    });
    expect(resolveConfig({ grpcUrl: "https://zerog.example", apiKey: "k2", timeoutSeconds: 5 }, env)).toEqual(
      {
        baseUrl: "https://zerog.example",
        apiKey: "k2",
        timeoutSeconds: 5,
        maxRequestBytes: 1000,
        verify: undefined,
      },
    );
  });

  it("treats an empty API key as none", () => {
    expect(resolveConfig({}, { ZEROG_API_KEY: "" }).apiKey).toBeUndefined();
  });

  it("names the setting when a value is malformed", () => {
    expect(() => resolveConfig({ timeoutSeconds: 0 }, {})).toThrow(/timeoutSeconds/);
    expect(() => resolveConfig({}, { ZEROG_TIMEOUT_SECONDS: "soon" })).toThrow(/ZEROG_TIMEOUT_SECONDS/);
    expect(() => resolveConfig({ grpcUrl: "bad host:50051" }, {})).toThrow(/ZEROG_GRPC_URL/);
    expect(() => resolveConfig({}, { ZEROG_MAX_REQUEST_BYTES: "big" })).toThrow(/ZEROG_MAX_REQUEST_BYTES/);
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
