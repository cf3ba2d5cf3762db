import type { TcbInfoSummary } from "./analyze-collateral.js";
import { CHECK_NAMES, type Check, type CheckName, firstFailure, type Reason } from "./check.js";
import { collateralIntegrity } from "./checks/collateral-integrity.js";
import { collateralValidity } from "./checks/collateral-validity.js";
import { quoteFormat } from "./checks/quote-format.js";
import { quotePceId } from "./checks/quote-pce-id.js";
import { quotePckRevocation } from "./checks/quote-pck-revocation.js";
import { quoteQeVendorId } from "./checks/quote-qe-vendor-id.js";
import { quoteSignatureChain } from "./checks/quote-signature-chain.js";
import { quoteTcbStatus, tcbOf } from "./checks/quote-tcb-status.js";
import { quoteTdxModule } from "./checks/quote-tdx-module.js";
import { quoteTeeType } from "./checks/quote-tee-type.js";
import type { Collateral, CollateralSource } from "./collateral.js";
import { CollateralUnavailableError, type InvalidInputError } from "./errors/input.js";
import { bytesToHex } from "./internal/bytes.js";
import type { ParsedQuote } from "./parse-quote.js";
import type { PolicyInput, TcbStatus } from "./policy.js";
import { type CollateralOrigin, type QuoteContext, quoteContext, readCollateral } from "./quote-context.js";
import { applyRequirements } from "./report.js";
import { assertNow, type ResolvedPolicy, resolvePolicy } from "./resolve-policy.js";
import type { VerificationCache } from "./verification-cache.js";

export interface VerifyQuoteParameters {
  /** Verification time, integer unix seconds. Required: there is no implicit clock. */
  now: number;
  policy?: PolicyInput | undefined;
  /** Reuse parsed quotes, collateral analyses and dcap-qvl results across calls (keyed by content). */
  cache?: VerificationCache | undefined;
}

/** JSON-friendly summary of the quote (measurements as hex). */
export interface QuoteSummary {
  version: number;
  teeType: "tdx" | "sgx";
  qeVendorId: string;
  /** hex, 64 bytes */
  reportData: string;
  td?: ParsedQuote["td"];
  sgx?: ParsedQuote["sgx"];
  /** From the PCK leaf, only once the signature chain verified it. */
  fmspc?: string;
  pceId?: string;
}

export interface VerifyQuoteReturnType {
  /** True when no check failed (skips count as failures only under `strict` / `requiredChecks`). */
  ok: boolean;
  /** First failing check's reason. */
  reason?: Reason;
  message?: string;
  checks: Check[];
  /** Names of the checks that were skipped (each says why). */
  skipped: CheckName[];
  quote?: QuoteSummary;
  /** Final TCB status (platform, QE and TDX module merged), when the signature chain verified. */
  tcbStatus?: TcbStatus;
  advisoryIds?: string[];
  tcbInfo?: TcbInfoSummary;
  /** True when dcap-qvl's result came from the cache. */
  cached: boolean;
}

export type VerifyQuoteErrorType = InvalidInputError | CollateralUnavailableError;

/** The quote steps, in order: each reads the context and returns one check. */
export const QUOTE_STEPS: ReadonlyArray<(ctx: QuoteContext) => Check> = [
  quoteFormat,
  quoteTeeType,
  collateralValidity,
  quoteSignatureChain,
  collateralIntegrity,
  quotePckRevocation,
  quoteQeVendorId,
  quotePceId,
  quoteTdxModule,
  quoteTcbStatus,
];

/** Names of the quote steps, in order. */
export const QUOTE_CHECKS: readonly CheckName[] = CHECK_NAMES.slice(
  CHECK_NAMES.indexOf("quote.format"),
  CHECK_NAMES.indexOf("quote.tcb_status") + 1,
);

/** The summary, extras and checks of a quote context (shared with `verifyProof`). */
export function quoteReport(
  ctx: QuoteContext,
): Omit<VerifyQuoteReturnType, "ok" | "reason" | "message" | "skipped"> {
  const checks = QUOTE_STEPS.map((step) => step(ctx));
  const out: ReturnType<typeof quoteReport> = { checks, cached: ctx.dcap?.cached ?? false };
  if (ctx.parse.ok) {
    const q = ctx.parse.quote;
    const s: QuoteSummary = {
      version: q.version,
      teeType: q.teeType,
      qeVendorId: q.qeVendorId,
      reportData: bytesToHex(q.reportData),
    };
    if (q.td) s.td = q.td;
    if (q.sgx) s.sgx = q.sgx;
    if (ctx.dcap?.result) {
      s.fmspc = ctx.parse.fmspc;
      s.pceId = ctx.parse.pceId;
    }
    out.quote = s;
  }
  const tcb = tcbOf(ctx);
  if (tcb) {
    out.tcbStatus = tcb.status;
    out.advisoryIds = tcb.advisoryIds;
  }
  const tcbInfo = readCollateral(ctx)?.analysis.tcbInfo;
  if (tcbInfo) out.tcbInfo = tcbInfo;
  return out;
}

/** The quote context of a resolved policy (shared with `verifyProof`). */
export function quoteContextOf(
  quote: Uint8Array | string,
  collateral: Collateral | string | CollateralSource,
  origin: CollateralOrigin,
  now: number,
  policy: ResolvedPolicy,
  cache: VerificationCache | undefined,
): Promise<QuoteContext> {
  return quoteContext(quote, { now, policy, cache, collateral, origin });
}

/**
 * Verifies an Intel TDX (v4/v5) or SGX (v3) DCAP quote against collateral at an explicit `now`, as named
 * steps: strict format, TEE type, collateral validity windows, the signature chain (@phala/dcap-qvl, on the
 * very certificates this verifier parsed), collateral integrity (both CRLs verified up to the trusted root),
 * PCK revocation, QE vendor id, PCE id, the TDX module identity and the TCB status policy. Never throws for
 * an invalid quote: the result has `ok: false` and a `reason`.
 *
 * @throws {InvalidInputError} when `quote` is not bytes/hex, `now` or the policy is invalid, or the given
 *   collateral is malformed.
 * @throws {CollateralUnavailableError} when a CollateralSource fails.
 * @example
 * const r = await verifyQuote(quoteBytes, collateral, { now: 1751624191 });
 * if (!r.ok) console.log(r.reason, r.message); else console.log(r.tcbStatus, r.advisoryIds);
 */
export async function verifyQuote(
  quote: Uint8Array | string,
  collateral: Collateral | string | CollateralSource,
  options: VerifyQuoteParameters,
): Promise<VerifyQuoteReturnType> {
  const now = assertNow(options?.now);
  const policy = resolvePolicy(options.policy);
  if (collateral === undefined || collateral === null)
    throw new CollateralUnavailableError("no collateral given");
  const ctx = await quoteContextOf(quote, collateral, "given", now, policy, options.cache);
  const report = quoteReport(ctx);
  const checks = applyRequirements(report.checks, policy, QUOTE_CHECKS);
  const f = firstFailure(checks);
  const out: VerifyQuoteReturnType = {
    ok: f === undefined,
    ...report,
    checks,
    skipped: checks.filter((c) => c.status === "skipped").map((c) => c.name),
  };
  if (f?.reason) {
    out.reason = f.reason;
    out.message = f.message;
  }
  return out;
}
