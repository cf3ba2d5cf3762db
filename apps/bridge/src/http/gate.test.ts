import { describe, expect, it } from "vitest";
import { allowedOrigin, createHostCheck } from "./gate.js";

describe("createHostCheck", () => {
  it("on loopback, accepts loopback names with any port and the names added, refuses others", () => {
    const check = createHostCheck("127.0.0.1", ["bridge.internal"]);
    for (const ok of [
      "localhost:50051",
      "127.0.0.1",
      "127.1.2.3:1",
      "[::1]:50051",
      "app.localhost:80",
      "BRIDGE.internal:9",
    ])
      expect(check(ok)).toBeUndefined();
    for (const bad of ["evil.test:50051", "localhost.evil.test", "127.0.0.1.nip.io", "", undefined])
      expect(check(bad)?.code).toBe("permission_denied");
  });

  it("beyond loopback, accepts every host", () => {
    expect(createHostCheck("0.0.0.0", [])("anything")).toBeUndefined();
    expect(createHostCheck("::1", [])("evil.test")?.code).toBe("permission_denied");
  });
});

describe("allowedOrigin", () => {
  it("answers the origin itself when listed, * when any, nothing otherwise", () => {
    expect(allowedOrigin(["https://app.example"], "https://app.example")).toBe("https://app.example");
    expect(allowedOrigin(["https://app.example"], "https://evil.example")).toBeUndefined();
    expect(allowedOrigin([], "https://app.example")).toBeUndefined();
    expect(allowedOrigin("*", "https://any.example")).toBe("*");
  });
});
