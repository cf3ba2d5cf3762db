import { randomHex } from "../random-hex.js";

/** A W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace, this hop's span, the flags. */
export interface TraceContext {
  traceId: string;
  /** This bridge's span for the call. */
  spanId: string;
  /** The caller's span, when it sent a valid `traceparent`. */
  parentId: string | undefined;
  /** Trace flags, two hex digits ("01": sampled). */
  flags: string;
}

const header = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const zeros = /^0+$/;

/**
 * The trace of a call: the caller's, from a valid `traceparent` (a new span under its span), else a
 * new trace. An invalid header (wrong shape, version ff, all-zero ids, extra fields on version 00) is
 * ignored, as the spec says, never refused.
 */
export function traceFromHeader(value: string | undefined): TraceContext {
  const m = value && value.length <= 512 ? header.exec(value.trim()) : null;
  if (m) {
    const [, version, traceId, parentId, flags, rest] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
      string?,
    ];
    if (version !== "ff" && !(version === "00" && rest) && !zeros.test(traceId) && !zeros.test(parentId))
      return { traceId, spanId: randomHex(8), parentId, flags };
  }
  return { traceId: randomHex(16), spanId: randomHex(8), parentId: undefined, flags: "00" };
}

/** The `traceparent` header for a call made within `trace`, as a new child span. */
export function childTraceparent(trace: TraceContext): string {
  return `00-${trace.traceId}-${randomHex(8)}-${trace.flags}`;
}
