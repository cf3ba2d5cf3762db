import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { fromConnectError, invalidArgument, printableText, toConnectError, ZeroGError } from "./errors.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";

describe("error catalogue", () => {
  it("round-trips an invalid argument with its field violations through the wire error", () => {
    const err = invalidArgument([{ field: "task.model", reason: "REQUIRED", description: "required" }]);
    const wire = toConnectError(err);
    expect(wire.code).toBe(Code.InvalidArgument);
    expect(wire.rawMessage).toBe("invalid request: task.model: required");
    const back = fromConnectError(wire);
    expect(back.code).toBe("invalid_argument");
    expect(back.violations).toEqual([{ field: "task.model", reason: "REQUIRED", description: "required" }]);
  });

  it("carries the failure reason of a failed job", () => {
    const err = new ZeroGError("job_failed", "job j1 failed: signature mismatch", {
      failureReason: "proof_invalid",
    });
    const back = fromConnectError(toConnectError(err));
    expect(back.code).toBe("job_failed");
    expect(back.failureReason).toBe("proof_invalid");
    expect(back.message).toContain("job j1 failed");
  });

  it("maps a plain gRPC status without details to a catalogue code", () => {
    expect(fromConnectError(new ConnectError("nope", Code.Unauthenticated)).code).toBe("unauthenticated");
    expect(fromConnectError(new ConnectError("gone", Code.NotFound)).code).toBe("job_not_found");
    expect(fromConnectError(new ConnectError("boom", Code.DataLoss)).code).toBe("internal");
  });

  it("puts the hint in the message and keeps the cause reachable by walk()", () => {
    const root = new Error("socket hang up");
    const err = new ZeroGError("internal", "bridge failed", { cause: new Error("wrapped", { cause: root }) });
    expect(err.message).toContain("A bug in the bridge");
    expect(err.walk()).toBe(root);
    expect(err.walk((e) => e instanceof Error && e.message === "wrapped")).toBeInstanceOf(Error);
  });

  it("carries a retry delay as google.rpc.RetryInfo, and reads it back", () => {
    const err = new ZeroGError("rate_limited", "too many calls with API key agent-a", { retryDelayMs: 1500 });
    const wire = toConnectError(err);
    expect(wire.code).toBe(Code.ResourceExhausted);
    const [info] = wire.findDetails(RetryInfoSchema);
    expect(info?.retryDelay?.seconds).toBe(1n);
    expect(info?.retryDelay?.nanos).toBe(500_000_000);
    const back = fromConnectError(wire);
    expect(back.code).toBe("rate_limited");
    expect(back.retryDelayMs).toBe(1500);
    expect(fromConnectError(toConnectError(new ZeroGError("quota_exceeded", "q"))).retryDelayMs).toBe(
      undefined,
    );
  });

  it("reads a retry delay from any server's RetryInfo, and a bare RESOURCE_EXHAUSTED as resource_exhausted", () => {
    const wire = new ConnectError("slow down", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: 3n, nanos: 0 } }) },
    ]);
    const back = fromConnectError(wire);
    expect(back.code).toBe("resource_exhausted");
    expect(back.retryDelayMs).toBe(3000);
    // A hostile delay (negative, huge) is clamped, never a negative or unbounded wait.
    const hostile = new ConnectError("x", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: -5n } }) },
    ]);
    expect(fromConnectError(hostile).retryDelayMs).toBe(0);
    const huge = new ConnectError("x", Code.ResourceExhausted, undefined, [
      { desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: { seconds: 10n ** 15n } }) },
    ]);
    expect(fromConnectError(huge).retryDelayMs).toBe(3_600_000);
    // Writing one: a delay no Duration holds (NaN, Infinity) threw RangeError from BigInt before.
    const written = (retryDelayMs: number) =>
      fromConnectError(toConnectError(new ZeroGError("rate_limited", "x", { retryDelayMs }))).retryDelayMs;
    expect(written(Number.NaN)).toBeUndefined();
    expect(written(Number.POSITIVE_INFINITY)).toBe(3_600_000);
    expect(written(-1)).toBe(0);
  });

  it("reads a hostile server's error as one bounded line of text: no control characters, no forged lines", () => {
    const forged = "job j1 failed\n\u001b[32mzerog: proof verified here\u001b[0m\r\u009b2J\u202e";
    const violation = {
      field: "task\nmodel",
      reason: "\u001b[31mEVIL",
      description: `bad\n${"x".repeat(5000)}`,
    };
    const wire = new ConnectError(forged + "y".repeat(10_000), Code.InvalidArgument, undefined, [
      {
        desc: ErrorInfoSchema,
        value: create(ErrorInfoSchema, { reason: "INVALID_ARGUMENT", domain: "zerog.chaoschain.io" }),
      },
      {
        desc: BadRequestSchema,
        value: create(BadRequestSchema, { fieldViolations: Array.from({ length: 10_000 }, () => violation) }),
      },
    ]);
    const back = fromConnectError(wire);
    // Escaped, visible: \n, \u001b … stay readable as text, and nothing reaches a terminal as a control.
    expect(back.shortMessage).toMatch(/^job j1 failed\\n\\u001b\[32mzerog: proof verified here/);
    // Nothing left for printableText to escape (but the hints' own line breaks).
    expect(printableText(back.message, { lineBreaks: true })).toBe(back.message);
    expect(back.shortMessage.split("\n")).toHaveLength(1);
    expect(back.shortMessage.length).toBeLessThanOrEqual(1_001);
    expect(back.violations).toHaveLength(100);
    expect(back.violations[0]).toEqual({
      field: "task\\nmodel",
      reason: "INVALID_VALUE",
      description: `bad\\n${"x".repeat(995)}…`,
    });
  });

  it("escapes as the README shows", () => {
    expect(printableText("done\n\u001b[32mverified")).toBe("done\\n\\u001b[32mverified");
    expect(printableText("line 1\nline 2\u0007", { lineBreaks: true })).toBe("line 1\nline 2\\u0007");
    expect(printableText("x".repeat(5000), { maxLength: 3 })).toBe("xxx…");
  });
});
