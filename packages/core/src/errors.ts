import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { FailureReason } from "./gen/chaoschain/zerog/v1/compute_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { type FailureReasonName, failureReasonFromName, failureReasonName } from "./names.js";
import type { FieldViolation } from "./task.js";

/** Domain of every `google.rpc.ErrorInfo` the bridge sends. */
export const errorDomain = "zerog.chaoschain.io";

/**
 * The error catalogue: every error the bridge returns, its gRPC code and what the caller can do.
 * The key is the stable `ErrorInfo.reason` (lower-cased) sent with each error.
 */
export const errorCatalogue = {
  invalid_argument: { code: Code.InvalidArgument, hint: "Fix the fields named in the error and send again." },
  unauthenticated: {
    code: Code.Unauthenticated,
    hint: "Send `authorization: Bearer <key>` with the bridge's ZEROG_API_KEY (adapter: apiKey or ZEROG_API_KEY).",
  },
  job_not_found: {
    code: Code.NotFound,
    hint: "Check the job id; ids come from Submit. A bridge deletes an ended job and its result once its job retention has passed (30 days unless its operator set another): submit the task again.",
  },
  job_not_finished: {
    code: Code.FailedPrecondition,
    hint: "Call GetResult with wait=true, or poll GetJob until the job has ended.",
  },
  job_failed: {
    code: Code.FailedPrecondition,
    hint: "The job failed: read the reason; submit again if it is transient.",
  },
  job_cancelled: { code: Code.FailedPrecondition, hint: "The job was cancelled; submit it again to run it." },
  wait_timeout: {
    code: Code.DeadlineExceeded,
    hint: "The job is still running: call GetResult again with a longer timeout_seconds.",
  },
  unsupported_task: {
    code: Code.FailedPrecondition,
    hint: "Change the task to one of the modes the bridge offers.",
  },
  no_service: {
    code: Code.FailedPrecondition,
    hint: "Call ListServices to see the models and modes on offer.",
  },
  shutting_down: { code: Code.Unavailable, hint: "The bridge is stopping; retry against a running bridge." },
  too_many_connections: {
    code: Code.Unavailable,
    hint: "The bridge serves a limited number of connections at once (--max-connections): reuse one connection for many calls, and retry with backoff.",
  },
  storage_full: {
    code: Code.ResourceExhausted,
    hint: "The disk holding the bridge's job store is full. Free space on it: the bridge takes jobs again by itself; retry then.",
  },
  storage_unavailable: {
    code: Code.Unavailable,
    hint: "The bridge cannot write its job store (see its log); it takes jobs again by itself once it can. Retry later.",
  },
  rate_limited: {
    code: Code.ResourceExhausted,
    hint: "Too many calls with this API key: wait the retry delay the error gives (retryDelayMs) and retry, with fewer calls per second; the bridge's operator sets the rate (--rate-limit, or per key in the keys file).",
  },
  quota_exceeded: {
    code: Code.ResourceExhausted,
    hint: "This API key has as many jobs queued or running as it may: wait for one to end (result(), watch()), then submit again; the bridge's operator sets the quota (--max-jobs-in-flight, or per key in the keys file).",
  },
  resource_exhausted: {
    code: Code.ResourceExhausted,
    hint: "The server is over one of its limits: retry after the delay it gives (retryDelayMs), with fewer calls in flight.",
  },
  request_too_large: {
    code: Code.ResourceExhausted,
    hint: "Send a smaller request: large inputs (datasets) go by reference, a 0G Storage root hash or a URL.",
  },
  request_timeout: {
    code: Code.DeadlineExceeded,
    hint: "The request body arrived too slowly; send it at once (the bridge's --request-timeout).",
  },
  permission_denied: {
    code: Code.PermissionDenied,
    hint: "Browsers: start the bridge with --cors-origin <origin>. Other clients: address the bridge by the name it listens on (localhost, 127.0.0.1) or add yours with --allowed-hosts.",
  },
  chain_unavailable: {
    code: Code.Unavailable,
    hint: "The bridge could not reach the 0G chain: check its RPC URL (ZEROG_RPC_URL) and retry.",
  },
  unavailable: {
    code: Code.Unavailable,
    hint: "Could not reach the bridge: is it running at ZEROG_GRPC_URL (default localhost:50051)?",
  },
  internal: { code: Code.Internal, hint: "A bug in the bridge; the bridge log has the details." },
} as const satisfies Record<string, { code: Code; hint: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/**
 * An error with a stable `code` from the {@link errorCatalogue}, a one-line `shortMessage`,
 * hints on how to fix it (`metaMessages`) and the original error as `cause`.
 */
export class ZeroGError extends Error {
  override name = "ZeroGError";
  readonly code: ErrorCode;
  readonly shortMessage: string;
  readonly metaMessages: string[];
  readonly details: string | undefined;
  /** For `invalid_argument`: every field in error. */
  readonly violations: FieldViolation[];
  /** For `job_failed`: why the job failed. */
  readonly failureReason: FailureReasonName | undefined;
  /**
   * How long to wait before retrying, ms, when the server said so (`google.rpc.RetryInfo`), e.g. for
   * `rate_limited`.
   */
  readonly retryDelayMs: number | undefined;

  constructor(
    code: ErrorCode,
    shortMessage: string,
    options: {
      cause?: unknown;
      details?: string;
      metaMessages?: string[];
      violations?: FieldViolation[];
      failureReason?: FailureReasonName;
      retryDelayMs?: number;
    } = {},
  ) {
    const metaMessages = options.metaMessages ?? [errorCatalogue[code].hint];
    const lines = [shortMessage, ...(metaMessages.length ? ["", ...metaMessages] : [])];
    if (options.details) lines.push("", `Details: ${options.details}`);
    super(lines.join("\n"), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.shortMessage = shortMessage;
    this.metaMessages = metaMessages;
    this.details = options.details;
    this.violations = options.violations ?? [];
    this.failureReason = options.failureReason;
    this.retryDelayMs = options.retryDelayMs;
  }

  /** Follows `cause` links and returns the deepest error, or the first for which `fn` is true. */
  walk(fn?: (err: unknown) => boolean): unknown {
    let err: unknown = this;
    while (err instanceof Error && err.cause !== undefined) {
      if (fn?.(err)) return err;
      err = err.cause;
    }
    return fn ? (fn(err) ? err : undefined) : err;
  }
}

/** Formats field violations as one line: `task.model: required; task.inputs.prompt: …`. */
export function formatViolations(violations: FieldViolation[]): string {
  return violations.map((v) => `${v.field}: ${v.description}`).join("; ");
}

/**
 * Control characters a terminal would act on (C0 but tab and line feed, DEL, C1), and the Unicode
 * format characters that reorder or hide text (bidi overrides and isolates, line separators).
 */
const controlCharacters =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, and line feeds and tabs. */
const controlOrLineBreak = new RegExp(`[\\n\\t]|${controlCharacters.source}`, "g");

const visible = (c: string) =>
  c === "\n"
    ? "\\n"
    : c === "\r"
      ? "\\r"
      : c === "\t"
        ? "\\t"
        : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Text from a server or a provider made safe to print: every control character escaped as visible
 * text (`\u001b`, `\r`), line feeds and tabs too unless `lineBreaks`, and cut to `maxLength`
 * characters with "…". A hostile answer cannot then recolour a terminal, rewrite its line, or print a
 * line of its own.
 *
 * @example
 * printableText("done\n\u001b[32mverified"); // "done\\n\\u001b[32mverified"
 */
export function printableText(
  text: string,
  options: { lineBreaks?: boolean; maxLength?: number } = {},
): string {
  const max = options.maxLength ?? Number.POSITIVE_INFINITY;
  // Cut before escaping too: a huge text is never copied whole.
  const head = text.length > max ? text.slice(0, max) : text;
  const escaped = head.replace(options.lineBreaks ? controlCharacters : controlOrLineBreak, visible);
  return escaped.length > max || text.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

/** Longest text taken from a server's error: its message, each violation's field and description. */
const maxErrorTextLength = 1_000;
/** Most field violations taken from a server's `BadRequest`. */
const maxViolations = 100;
const violationReasons = new Set<string>([
  "REQUIRED",
  "INVALID_TYPE",
  "INVALID_VALUE",
  "OUT_OF_RANGE",
  "UNKNOWN_FIELD",
  "CONFLICT",
] satisfies FieldViolation["reason"][]);

/** Longest retry delay taken from a server's `RetryInfo`: a larger one is clamped to it. */
const maxRetryDelayMs = 3_600_000;

/**
 * Builds the wire error for a catalogue code: a `ConnectError` with the catalogue's gRPC code,
 * a `google.rpc.ErrorInfo` detail (reason = code), a `google.rpc.RetryInfo` when there is a retry
 * delay and, for invalid arguments, a `google.rpc.BadRequest` with every field violation.
 */
export function toConnectError(err: ZeroGError): ConnectError {
  const metadata: Record<string, string> = {};
  if (err.failureReason) metadata.failure_reason = err.failureReason;
  const details = [
    {
      desc: ErrorInfoSchema,
      value: create(ErrorInfoSchema, { reason: err.code.toUpperCase(), domain: errorDomain, metadata }),
    },
  ];
  if (err.retryDelayMs !== undefined && !Number.isNaN(err.retryDelayMs)) {
    const ms = Math.min(maxRetryDelayMs, Math.max(0, Math.round(err.retryDelayMs)));
    details.push({
      desc: RetryInfoSchema,
      value: create(RetryInfoSchema, {
        retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 },
      }),
    } as never);
  }
  if (err.violations.length) {
    details.push({
      desc: BadRequestSchema,
      value: create(BadRequestSchema, { fieldViolations: err.violations }),
    } as never);
  }
  return new ConnectError(err.shortMessage, errorCatalogue[err.code].code, undefined, details, err);
}

/** The error for a request whose fields are invalid; the message names every field. */
export function invalidArgument(violations: FieldViolation[]): ZeroGError {
  return new ZeroGError("invalid_argument", `invalid request: ${formatViolations(violations)}`, {
    violations,
  });
}

/**
 * Reads a wire error back into a {@link ZeroGError}: the catalogue code from its ErrorInfo, the
 * field violations from its BadRequest. Errors without our details keep a code derived from the
 * gRPC status. The server's text is taken as {@link printableText}, 1,000 characters at most, and
 * 100 violations at most.
 */
export function fromConnectError(err: ConnectError): ZeroGError {
  const info = err.findDetails(ErrorInfoSchema).find((d) => d.domain === errorDomain);
  const text = (t: string) => printableText(t, { maxLength: maxErrorTextLength });
  const violations = err
    .findDetails(BadRequestSchema)
    .flatMap((b) => b.fieldViolations)
    .slice(0, maxViolations)
    .map((v) => ({
      field: text(v.field),
      description: text(v.description),
      reason: (violationReasons.has(v.reason) ? v.reason : "INVALID_VALUE") as FieldViolation["reason"],
    }));
  const named = info?.reason.toLowerCase();
  const code: ErrorCode =
    named && Object.hasOwn(errorCatalogue, named) ? (named as ErrorCode) : codeFromStatus(err.code);
  const reason = info?.metadata.failure_reason;
  const failureReason = reason
    ? failureReasonName(failureReasonFromName(reason) ?? FailureReason.UNSPECIFIED)
    : undefined;
  const retryDelayMs = retryDelayOf(err);
  return new ZeroGError(code, text(err.rawMessage), {
    cause: err,
    violations,
    ...(failureReason ? { failureReason } : {}),
    ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
  });
}

/** The delay of the error's `google.rpc.RetryInfo`, ms, within 0 to an hour; undefined without one. */
function retryDelayOf(err: ConnectError): number | undefined {
  const delay = err.findDetails(RetryInfoSchema)[0]?.retryDelay;
  if (!delay) return undefined;
  const ms = Number(delay.seconds) * 1000 + Math.floor(delay.nanos / 1_000_000);
  return Number.isFinite(ms) ? Math.min(maxRetryDelayMs, Math.max(0, ms)) : maxRetryDelayMs;
}

function codeFromStatus(code: Code): ErrorCode {
  switch (code) {
    case Code.InvalidArgument:
      return "invalid_argument";
    case Code.Unauthenticated:
      return "unauthenticated";
    case Code.NotFound:
      return "job_not_found";
    case Code.DeadlineExceeded:
      return "wait_timeout";
    case Code.Unavailable:
      return "unavailable";
    case Code.ResourceExhausted:
      return "resource_exhausted";
    case Code.PermissionDenied:
      return "permission_denied";
    default:
      return "internal";
  }
}
