import type { ComputeResult } from "@chaoschain/zerog-core";
import {
  type ErrorCode,
  ErrorInfoSchema,
  errorDomain,
  type FieldViolation,
  fromConnectError,
  invalidArgument,
  printableText,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type { VerifyProofReturnType } from "@chaoschain/zerog-verifier";
import { Code, type ConnectError } from "@connectrpc/connect";

/** Where and what a failed call was: for messages that name the real cause. */
export interface CallContext {
  /** RPC name, e.g. "Submit". */
  method: string;
  /** The bridge address as configured (`ZEROG_GRPC_URL`). */
  baseUrl: string;
  timeoutSeconds: number;
  /** The largest answer read (`maxResponseBytes`). */
  maxResponseBytes: number;
}

/** The error for a caller's mistake in the arguments of a method: `invalid_argument` naming the field. */
export function badArgument(
  field: string,
  reason: FieldViolation["reason"],
  description: string,
): ZeroGError {
  return invalidArgument([{ field, reason, description }]);
}

/** A job id as methods take it: a non-empty string. */
export function requireJobId(jobId: unknown, field = "jobId"): string {
  if (typeof jobId !== "string" || jobId.trim() === "") {
    throw badArgument(field, "REQUIRED", 'a job id, as submit() returned it (e.g. "job_…")');
  }
  return jobId;
}

/** Whether the error was sent by a ChaosChain bridge (it carries our `google.rpc.ErrorInfo`). */
export function isBridgeError(err: ConnectError): boolean {
  return err.findDetails(ErrorInfoSchema).some((d) => d.domain === errorDomain);
}

/** A server's message as it may be printed: escaped, one line, 1,000 characters at most. */
export function serverText(err: ConnectError): string {
  return printableText(err.rawMessage, { maxLength: 1_000 });
}

/** Whether a gRPC server answered (its response has a gRPC content type), rather than the transport failing. */
function answeredByGrpcServer(err: ConnectError): boolean {
  return /^application\/grpc/i.test(err.metadata.get("content-type") ?? "");
}

function transportError(
  code: ErrorCode,
  shortMessage: string,
  ctx: CallContext,
  err: ConnectError,
  hints: string[],
): ZeroGError {
  return new ZeroGError(code, shortMessage, {
    cause: err,
    metaMessages: [...hints, `ZEROG_GRPC_URL / grpcUrl resolved to ${ctx.baseUrl}.`],
  });
}

/**
 * Names what went wrong in a call that did not get an answer from a bridge: refused connections,
 * a server that is not a bridge, a deadline with no answer, a request too large. Returns undefined
 * when the error is a transport failure that needs a closer look (see `explainTransport`).
 */
export function explainAnswer(err: ConnectError, ctx: CallContext): ZeroGError | undefined {
  if (isBridgeError(err)) return fromConnectError(err);
  const at = `${ctx.method} to ${ctx.baseUrl}`;
  // This client's own limit (connect's readMaxBytes): the answer was not read whole.
  if (
    err.code === Code.ResourceExhausted &&
    !answeredByGrpcServer(err) &&
    /larger than configured readMaxBytes/.test(err.rawMessage)
  ) {
    return new ZeroGError(
      "resource_exhausted",
      `the bridge's answer to ${ctx.method} is larger than the ${ctx.maxResponseBytes} bytes this adapter reads (maxResponseBytes / ZEROG_MAX_RESPONSE_BYTES)`,
      {
        cause: err,
        metaMessages: [
          "A bridge's answers are far smaller: check that ZEROG_GRPC_URL names a bridge you trust, or raise maxResponseBytes.",
        ],
      },
    );
  }
  if (answeredByGrpcServer(err)) {
    if (err.code === Code.ResourceExhausted && /readMaxBytes|larger than|too large/i.test(err.rawMessage)) {
      return transportError(
        "invalid_argument",
        `the bridge refused ${at} as too large: ${serverText(err)}`,
        ctx,
        err,
        ["Send a smaller task (fewer or shorter messages); the bridge's limit is its --max-request-bytes."],
      );
    }
    if (err.code === Code.ResourceExhausted) {
      const { retryDelayMs } = fromConnectError(err);
      return new ZeroGError(
        "resource_exhausted",
        `the server is over capacity for ${at}: ${serverText(err)}`,
        {
          cause: err,
          ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
        },
      );
    }
    if (err.code === Code.Unimplemented) {
      return transportError(
        "unavailable",
        `the gRPC server at ${ctx.baseUrl} does not serve chaoschain.zerog.v1.ComputeService/${ctx.method}: it is not a ChaosChain 0G bridge, or an older one`,
        ctx,
        err,
        ["Point ZEROG_GRPC_URL at the bridge (zerog-bridge start prints its address)."],
      );
    }
    return fromConnectError(err);
  }
  const contentType = err.metadata.get("content-type");
  if (contentType !== null || /^HTTP \d{3}/.test(err.rawMessage)) {
    return transportError(
      "unavailable",
      `the server at ${ctx.baseUrl} is not a ChaosChain 0G bridge: it answered ${ctx.method} with ${serverText(err)}${contentType ? ` (${printableText(contentType, { maxLength: 200 })})` : ""}`,
      ctx,
      err,
      ["Point ZEROG_GRPC_URL at the bridge (zerog-bridge start prints its address)."],
    );
  }
  if (err.code === Code.DeadlineExceeded) {
    return transportError("unavailable", `no answer to ${at} within ${ctx.timeoutSeconds} s`, ctx, err, [
      "Is the bridge at ZEROG_GRPC_URL running and not overloaded? A server that accepts connections but never",
      "answers gRPC looks like this too. Raise timeoutSeconds / ZEROG_TIMEOUT_SECONDS for slow links.",
    ]);
  }
  const codes = nodeErrorCodes(err);
  const has = (...c: string[]) => c.some((x) => codes.includes(x));
  if (has("ECONNREFUSED")) {
    return transportError("unavailable", `nothing listens at ${ctx.baseUrl} (connection refused)`, ctx, err, [
      "Start the bridge (zerog-bridge start) or set ZEROG_GRPC_URL to where it listens.",
    ]);
  }
  if (has("ENOTFOUND", "EAI_AGAIN")) {
    return transportError("unavailable", `cannot resolve the host of ${ctx.baseUrl}`, ctx, err, [
      "Check the host name in ZEROG_GRPC_URL.",
    ]);
  }
  if (has("ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH")) {
    return transportError("unavailable", `cannot reach ${ctx.baseUrl} (${codes[0]})`, ctx, err, [
      "Check the address in ZEROG_GRPC_URL and the network between here and the bridge.",
    ]);
  }
  if (
    codes.some((c) =>
      /^ERR_SSL_WRONG_VERSION_NUMBER$|^ERR_SSL_PACKET_LENGTH_TOO_LONG$|^ERR_SSL_HTTP_REQUEST$/.test(c),
    )
  ) {
    return transportError(
      "unavailable",
      `TLS to ${ctx.baseUrl} failed: the server there does not speak TLS (a plaintext bridge)`,
      ctx,
      err,
      [`Use ${ctx.baseUrl.replace(/^https:/, "http:")} (or host:port) for a bridge without TLS.`],
    );
  }
  if (
    codes.some((c) =>
      /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID|LEAF_SIGNATURE/.test(c),
    )
  ) {
    return transportError(
      "unavailable",
      `the TLS certificate of ${ctx.baseUrl} is not trusted (${codes.find((c) => /CERT|SIGN|UNABLE|LEAF/.test(c))})`,
      ctx,
      err,
      [
        "Check the host name in ZEROG_GRPC_URL, or trust the bridge's CA: caFile / ZEROG_CA_FILE (a PEM file), or NODE_EXTRA_CA_CERTS.",
      ],
    );
  }
  return undefined;
}

/** Whether the error means the HTTP/2 session itself is broken (and must not be reused). */
export function isSessionFailure(err: ConnectError): boolean {
  const codes = nodeErrorCodes(err);
  return (
    codes.some((c) =>
      /^ERR_HTTP2_(ERROR|SESSION_ERROR|GOAWAY_SESSION|INVALID_SESSION|STREAM_ERROR)$|^ECONNRESET$|^EPIPE$|^ERR_SSL/.test(
        c,
      ),
    ) || /ENHANCE_YOUR_CALM|Protocol error|GOAWAY/i.test(err.rawMessage)
  );
}

/** The last resort: a transport failure we could not name more precisely; never "a bug in the bridge". */
export function unexplained(err: ConnectError, ctx: CallContext, finding?: string): ZeroGError {
  const tooBig = /ENHANCE_YOUR_CALM/.test(err.rawMessage);
  return transportError(
    "unavailable",
    finding
      ? `${ctx.method} to ${ctx.baseUrl} failed: ${finding}`
      : tooBig
        ? `the server at ${ctx.baseUrl} reset ${ctx.method} (ENHANCE_YOUR_CALM): the request was too large for its HTTP/2 session`
        : `${ctx.method} to ${ctx.baseUrl} failed at the transport level: ${serverText(err)}`,
    ctx,
    err,
    tooBig
      ? ["Send a smaller request; the connection has been reset, later calls use a fresh one."]
      : [
          "Check that ZEROG_GRPC_URL names a running bridge, with http:// for plaintext and https:// for TLS.",
        ],
  );
}

/** Node error codes (`ECONNREFUSED`, `ERR_HTTP2_ERROR`, `ERR_SSL_…`) along the cause chain. */
export function nodeErrorCodes(err: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  for (let e = err; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

export type ProofVerificationErrorType = ProofVerificationError & { name: "ProofVerificationError" };

/** The verifier policy file the devnet writes every time it starts (`npm start`). */
export const devnetPolicyPath = ".zerog/devnet-policy.json";

/**
 * What to do about a proof that did not verify, by the first failing check's reason. `policy` says
 * which policy it was checked under ("Intel's default policy", "the policy in <file> (…)").
 */
export function verificationHints(report: VerifyProofReturnType, policy: string): string[] {
  switch (report.reason) {
    case "untrusted_root":
      return [
        `The quote chains to another root than ${policy} trusts.`,
        `A result of the embedded devnet (npm start) is signed under the devnet's synthetic test root: verify it with the devnet's policy, ZEROG_VERIFY_POLICY=${devnetPolicyPath} (or verify: { policy }).`,
      ];
    case "collateral_missing":
      return [
        "The proof carries no Intel collateral (its bridge predates embedded collateral, or skipped quote verification):",
        "pass verify: { collateral } (e.g. createPcsCollateralSource() of @chaoschain/zerog-verifier).",
      ];
    default:
      return [
        "Do not rely on this job's output. Every check is in the error's report.",
        `Checked under ${policy}; verify: false turns client verification off.`,
      ];
  }
}

/**
 * A result whose proof did not verify here (`@chaoschain/zerog-verifier`): `result()` throws it instead
 * of handing out the output. `code` is `job_failed` with `failureReason` `proof_invalid`, as when the
 * bridge itself rejects a proof; `report` has every check, `raw` the result as the bridge sent it.
 */
export class ProofVerificationError extends ZeroGError {
  override name = "ProofVerificationError";
  readonly jobId: string;
  /** The verifier's report: `reason`, `message`, every check. */
  readonly report: VerifyProofReturnType;
  /** The result as the bridge sent it (do not use its output). */
  readonly raw: ComputeResult;
  constructor(jobId: string, report: VerifyProofReturnType, raw: ComputeResult, policy: string) {
    super(
      "job_failed",
      `the proof of job ${jobId} did not verify: ${report.reason ?? "invalid"}${report.message ? `: ${report.message}` : ""}`,
      { failureReason: "proof_invalid", metaMessages: verificationHints(report, policy) },
    );
    this.jobId = jobId;
    this.report = report;
    this.raw = raw;
  }
}
