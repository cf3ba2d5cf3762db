import type http from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";

/** The longest deadline a call may set: the longest a timer waits, 2^31 - 1 ms (24.8 days). */
export const maxDeadlineMs = 2 ** 31 - 1;

const grpcUnitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * The deadline a call asks for, in ms: its `grpc-timeout` header (gRPC, gRPC-web) or `connect-timeout-ms`
 * (Connect). Undefined without one, or with one malformed, which connect refuses itself.
 */
export function requestedDeadlineMs(headers: http.IncomingHttpHeaders): number | undefined {
  const grpc = headers["grpc-timeout"];
  if (typeof grpc === "string") {
    const match = /^(\d{1,8})([HMSmun])$/.exec(grpc);
    return match ? Number(match[1]) * grpcUnitMs[match[2]!]! : undefined;
  }
  const connect = headers["connect-timeout-ms"];
  return typeof connect === "string" && /^\d{1,10}$/.test(connect) ? Number(connect) : undefined;
}

/**
 * INVALID_ARGUMENT for a deadline longer than {@link maxDeadlineMs}, else undefined. Checked before
 * connect sees the call: connect starts a timer for the deadline even when it refuses it, and Node fires
 * a longer timer after 1 ms, warning on stderr each time.
 */
export function deadlineRefusal(headers: http.IncomingHttpHeaders): ConnectError | undefined {
  const ms = requestedDeadlineMs(headers);
  if (ms === undefined || ms <= maxDeadlineMs) return undefined;
  return new ConnectError(
    `the call's deadline is ${ms} ms; the bridge takes deadlines up to ${maxDeadlineMs} ms (24.8 days): set a shorter timeout, or none`,
    Code.InvalidArgument,
  );
}
