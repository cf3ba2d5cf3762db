import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { fromConnectError, invalidArgument, toConnectError, ZeroGError } from "./errors.js";

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
});
