import { analyzeCollateral, type CollateralAnalysis, type ValidityWindow } from "./analyze-collateral.js";
import { type Check, fail, type Reason } from "./check.js";
import {
  type Collateral,
  type CollateralRequest,
  type CollateralSource,
  collateralKey,
  isCollateralSource,
  type NormalizedCollateral,
  normalizeCollateral,
} from "./collateral.js";
import { BaseError } from "./errors/base.js";
import { CollateralUnavailableError, InputTooLargeError, InvalidInputError } from "./errors/input.js";
import { equalBytes } from "./internal/bytes.js";
import { runDcap } from "./internal/dcap.js";
import { sha256Hex } from "./internal/sha256.js";
import { untrustedRootMessage } from "./internal/untrusted-root.js";
import { type ParsedCert, parseCertificate, sgxExtension } from "./internal/x509.js";
import { LIMITS } from "./limits.js";
import { type ParsedQuote, parseQuote, toQuoteBytes } from "./parse-quote.js";
import type { ResolvedPolicy } from "./resolve-policy.js";
import { type CachedQuoteResult, memo, type VerificationCache } from "./verification-cache.js";

/** Where the collateral came from: the caller (object, JSON text or source) or the proof itself. */
export type CollateralOrigin = "given" | "embedded";

export type QuoteFacts =
  | { ok: true; quote: ParsedQuote; pckChain: ParsedCert[]; pceId: string; fmspc: string }
  | { ok: false; reason: Reason; message: string };

export type CollateralFacts =
  | {
      ok: true;
      normalized: NormalizedCollateral;
      key: string;
      analysis: CollateralAnalysis;
      origin: CollateralOrigin;
    }
  | { ok: false; check: Check };

/** dcap-qvl's verdict on the quote (signatures, chains, TCB matching), or why it failed. */
export interface DcapFacts {
  result?: CachedQuoteResult;
  cached: boolean;
  error?: string;
  /** Set when the failure is ours (not a dcap-qvl message). */
  reason?: Reason;
}

/** The quote's facts when it parsed, else undefined. */
export function parsed(ctx: QuoteContext): Extract<QuoteFacts, { ok: true }> | undefined {
  return ctx.parse.ok ? ctx.parse : undefined;
}

/** The collateral's facts when it could be read, else undefined. */
export function readCollateral(ctx: QuoteContext): Extract<CollateralFacts, { ok: true }> | undefined {
  return ctx.collateral?.ok ? ctx.collateral : undefined;
}

/** Everything the quote steps read: computed once per call, the costly parts cached by content. */
export interface QuoteContext {
  now: number;
  policy: ResolvedPolicy;
  parse: QuoteFacts;
  collateral?: CollateralFacts;
  dcap?: DcapFacts;
  /** Validity windows of the collateral and of the quote's PCK chain. */
  windows: ValidityWindow[];
}

export interface QuoteContextParameters {
  now: number;
  policy: ResolvedPolicy;
  cache?: VerificationCache | undefined;
  collateral: Collateral | string | CollateralSource;
  origin: CollateralOrigin;
}

/** Strict parse of a quote and its PCK leaf (FMSPC, PCE id): the quote's facts, or why it is unusable. */
export function parseFacts(bytes: Uint8Array): QuoteFacts {
  let quote: ParsedQuote;
  try {
    quote = parseQuote(bytes);
  } catch (e) {
    if (e instanceof InputTooLargeError)
      return { ok: false, reason: "input_too_large", message: e.shortMessage };
    if (e instanceof InvalidInputError)
      return { ok: false, reason: "quote_malformed", message: e.shortMessage };
    throw e;
  }
  if (quote.attestationKeyType !== 2)
    return {
      ok: false,
      reason: "quote_unsupported",
      message: `attestation key type ${quote.attestationKeyType} is not ECDSA-256-with-P-256`,
    };
  if (quote.certificationDataType !== 5)
    return {
      ok: false,
      reason: "quote_unsupported",
      message: `certification data type ${quote.certificationDataType}: a PCK chain (type 5) is required`,
    };
  try {
    const pckChain = quote.pckChain.map(parseCertificate);
    const { pceId, fmspc } = sgxExtension(pckChain[0] as ParsedCert);
    return { ok: true, quote, pckChain, pceId, fmspc };
  } catch (e) {
    return {
      ok: false,
      reason: "quote_malformed",
      message: `PCK certificate does not parse: ${(e as Error).message}`,
    };
  }
}

/**
 * What to ask a PCS for, for this quote: its TEE type, its PCK leaf's FMSPC, and the CA that issued the
 * leaf ("processor" when the issuer's name says so, as Intel names it, else "platform").
 */
export function collateralRequestOf(q: Extract<QuoteFacts, { ok: true }>, now: number): CollateralRequest {
  const issuer = new TextDecoder().decode((q.pckChain[0] as ParsedCert).issuer);
  const ca = /Processor/.test(issuer) ? "processor" : "platform";
  return { teeType: q.quote.teeType, fmspc: q.fmspc, ca, now };
}

async function collateralFacts(
  p: QuoteContextParameters,
  q: Extract<QuoteFacts, { ok: true }>,
): Promise<CollateralFacts> {
  let input: Collateral | string;
  const c = p.collateral;
  if (isCollateralSource(c)) {
    try {
      input = await c.getCollateral(collateralRequestOf(q, p.now));
    } catch (e) {
      if (e instanceof CollateralUnavailableError) throw e;
      throw new CollateralUnavailableError(`fetcher failed for FMSPC ${q.fmspc}`, { cause: e });
    }
  } else input = c;
  let normalized: NormalizedCollateral;
  try {
    normalized = normalizeCollateral(input);
  } catch (e) {
    // The caller's collateral is the caller's to fix; the proof's own is attacker input.
    if (p.origin === "given" || !(e instanceof BaseError)) throw e;
    return {
      ok: false,
      check: fail("collateral.integrity", "collateral_invalid", `embedded ${e.shortMessage}`),
    };
  }
  // Content keys index the cache only: without one, nothing is hashed.
  const key = p.cache ? collateralKey(normalized) : "";
  const analysis = await memo(p.cache, "collateral", `${key}:${p.policy.rootKey}`, () =>
    analyzeCollateral(normalized, p.policy.root),
  );
  return { ok: true, normalized, key, analysis, origin: p.origin };
}

/** The intersection of all windows: where a cached dcap-qvl result still holds. */
function span(windows: ValidityWindow[]): { lo: number; hi: number } {
  let lo = Number.NEGATIVE_INFINITY;
  let hi = Number.POSITIVE_INFINITY;
  for (const w of windows) {
    lo = Math.max(lo, w.notBefore);
    hi = Math.min(hi, w.notAfter);
  }
  return { lo, hi };
}

/** Names along the quote's chain, and its root, which dcap-qvl does not compare. */
function chainProblem(
  q: Extract<QuoteFacts, { ok: true }>,
  root: ParsedCert,
): { reason: Reason; message: string } | undefined {
  const [leaf, ca, top] = q.pckChain as [ParsedCert, ParsedCert, ParsedCert];
  if (!equalBytes(top.der, root.der))
    return {
      reason: "untrusted_root",
      message: untrustedRootMessage("the quote", top.der, root),
    };
  if (!equalBytes(leaf.issuer, ca.subject) || !equalBytes(ca.issuer, root.subject) || !ca.isCa)
    return {
      reason: "certificate_chain_invalid",
      message: "the quote's PCK chain is not leaf → CA → trusted root by name",
    };
  return undefined;
}

function dcapFacts(
  p: QuoteContextParameters,
  bytes: Uint8Array,
  quoteKey: string,
  q: Extract<QuoteFacts, { ok: true }>,
  coll: Extract<CollateralFacts, { ok: true }>,
  windows: ValidityWindow[],
): DcapFacts {
  const problem = chainProblem(q, p.policy.root);
  if (problem) return { cached: false, error: problem.message, reason: problem.reason };
  const key = `${quoteKey}:${coll.key}:${p.policy.rootKey}`;
  const hit = p.cache?.get("dcap", key);
  if (hit && p.now >= hit.notBefore && p.now <= hit.notAfter) return { result: hit, cached: true };
  try {
    const r = runDcap(bytes, coll.normalized, p.now, p.policy.root.der);
    const { lo, hi } = span(windows);
    const result = { ...r, notBefore: lo, notAfter: hi };
    p.cache?.set("dcap", key, result);
    return { result, cached: false };
  } catch (e) {
    return { cached: false, error: (e as Error).message };
  }
}

/**
 * Builds the facts of a quote: its size (refused over {@link LIMITS.quoteBytes} before parsing), its strict
 * parse, its collateral and that collateral's analysis, and dcap-qvl's verdict. Attacker-controlled problems
 * become facts the steps report; only caller misuse throws.
 */
export async function quoteContext(
  quote: Uint8Array | string,
  p: QuoteContextParameters,
): Promise<QuoteContext> {
  const base = { now: p.now, policy: p.policy, windows: [] as ValidityWindow[] };
  const size = typeof quote === "string" ? Math.floor(quote.replace(/^0x/i, "").length / 2) : quote.length;
  if (size > LIMITS.quoteBytes) {
    const e = new InputTooLargeError("quote", size, LIMITS.quoteBytes);
    return { ...base, parse: { ok: false, reason: "input_too_large", message: e.shortMessage } };
  }
  const bytes = toQuoteBytes(quote);
  const quoteKey = p.cache ? sha256Hex(bytes) : "";
  const parse = memo(p.cache, "quote", quoteKey, () => parseFacts(bytes));
  if (!parse.ok) return { ...base, parse };
  const collateral = await collateralFacts(p, parse);
  if (!collateral.ok) return { ...base, parse, collateral };
  const windows = [
    ...collateral.analysis.windows,
    ...parse.pckChain.map((c, i) => ({
      what: `quote PCK chain[${i}]`,
      kind: "certificate" as const,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
    })),
  ];
  return {
    ...base,
    parse,
    collateral,
    windows,
    dcap: dcapFacts(p, bytes, quoteKey, parse, collateral, windows),
  };
}
