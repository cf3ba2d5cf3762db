import { describe, expect, it } from "vitest";
import { childTraceparent, traceFromHeader } from "./trace-context.js";

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe("W3C trace context", () => {
  it("continues the caller's trace under a new span", () => {
    const t = traceFromHeader(parent);
    expect(t).toMatchObject({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      parentId: "00f067aa0ba902b7",
      flags: "01",
    });
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe(t.parentId);
    const child = childTraceparent(t);
    expect(child).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    // A future version with more fields is read.
    expect(traceFromHeader(`01${parent.slice(2)}-extra`).traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  it.each([
    undefined,
    "",
    "garbage",
    `ff${parent.slice(2)}`,
    `${parent}-extra`,
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    `${parent}${"x".repeat(100_000)}`,
  ])("starts a new trace for %s", (value) => {
    const t = traceFromHeader(value);
    expect(t.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(t.traceId).not.toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(t.parentId).toBeUndefined();
  });
});
