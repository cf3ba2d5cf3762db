import { CollateralUnavailableError } from "./input.js";

/** What went wrong while fetching one collateral document. */
export type CollateralFetchErrorKind =
  /** The server answered a non-2xx status (`status`, and `requestId` when it sent one). */
  | "status"
  /** No complete answer within the timeout. */
  | "timeout"
  /** The request failed before an answer (DNS, connection refused, TLS, CORS). */
  | "network"
  /** The answer was larger than the limit and was not read to the end. */
  | "too_large"
  /** The answer is not what the PCS API specifies (body, header or encoding). */
  | "malformed"
  /** The document's `nextUpdate` has passed: the server serves stale collateral. */
  | "expired"
  /** The issuer chain in the header did not sign the document (or the chains do not share one root). */
  | "issuer_chain_mismatch";

export type CollateralFetchErrorType = CollateralFetchError & { name: "CollateralFetchError" };

const HINTS: Record<CollateralFetchErrorKind, string> = {
  status:
    "A 404 for TCB info means the PCS/PCCS knows no TCB info for this FMSPC (an unregistered platform, or a PCCS that has not cached it); 429 and 5xx are worth retrying later.",
  timeout: "Check that the PCS/PCCS is reachable from here, or raise `timeoutMs`.",
  network: "Check the URL (`url`, `rootCaCrlUrl`) and that this host can reach it.",
  too_large: "A PCS document is a few KiB: this server is not a PCS/PCCS, or is misbehaving.",
  malformed: "The server does not speak the Intel PCS v4 API at this URL: check `url`.",
  expired: "The PCS/PCCS serves outdated collateral: refresh the PCCS cache, or use Intel's PCS.",
  issuer_chain_mismatch:
    "The server's issuer-chain header does not belong to the document it served: do not trust this server.",
};

/**
 * Fetching collateral from a PCS or PCCS failed: names the URL, what went wrong (`kind`) and, for an HTTP
 * error, the status and the server's `Request-ID`. A {@link CollateralUnavailableError} (`code:
 * "collateral_unavailable"`), so callers that handle that handle this.
 */
export class CollateralFetchError extends CollateralUnavailableError {
  override name = "CollateralFetchError";
  readonly kind: CollateralFetchErrorKind;
  /** The URL requested. */
  readonly url: string;
  /** HTTP status, for `kind: "status"`. */
  readonly status: number | undefined;
  /** The server's `Request-ID` header, when it sent one (quote it to Intel support). */
  readonly requestId: string | undefined;
  constructor(
    kind: CollateralFetchErrorKind,
    url: string,
    problem: string,
    opts: { status?: number | undefined; requestId?: string | undefined; cause?: unknown } = {},
  ) {
    super(`GET ${url}: ${problem}`, { cause: opts.cause, metaMessages: [HINTS[kind]] });
    this.kind = kind;
    this.url = url;
    this.status = opts.status;
    this.requestId = opts.requestId;
  }
}
