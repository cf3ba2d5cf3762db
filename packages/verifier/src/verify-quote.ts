import { sha256 } from "@noble/hashes/sha2.js";
import { analyzeCollateral, type CollateralAnalysis, type TcbInfoSummary } from "./analyze-collateral.js";
import {
  type Collateral,
  type CollateralSource,
  isCollateralSource,
  type NormalizedCollateral,
  normalizeCollateral,
} from "./collateral.js";
import { checkPckRevocation } from "./crl.js";
import { BaseError } from "./errors/base.js";
import { CollateralUnavailableError, InvalidInputError } from "./errors/input.js";
import { bytesToHex, utf8ToBytes } from "./internal/bytes.js";
import { dcapReason, runDcap } from "./internal/dcap.js";
import { type ParsedCert, parseCertificate, sgxExtension } from "./internal/x509.js";
import { type ParsedQuote, parseQuote, toQuoteBytes } from "./parse-quote.js";
import { type PolicyInput, type ResolvedPolicy, resolvePolicy, type TcbStatus } from "./policy.js";
import { type Check, fail, firstFailure, pass, type Reason, skip } from "./reasons.js";
import type { VerificationCache } from "./verification-cache.js";

export interface VerifyQuoteParameters {
  /** Verification time, unix seconds. Required: there is no implicit clock. */
  now: number;
  policy?: PolicyInput | undefined;
  /** Reuse parsed collateral and quote signature-chain results across calls. */
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
  fmspc?: string;
  pceId?: string;
}

export interface VerifyQuoteReturnType {
  ok: boolean;
  /** First failing check's reason. */
  reason?: Reason;
  message?: string;
  checks: Check[];
  quote?: QuoteSummary;
  /** Final TCB status (platform merged with QE identity), when the signature chain verified. */
  tcbStatus?: TcbStatus;
  advisoryIds?: string[];
  tcbInfo?: TcbInfoSummary;
  /** True when the signature-chain result came from the cache. */
  cached: boolean;
}

export type VerifyQuoteErrorType = InvalidInputError | CollateralUnavailableError;

export function assertNow(now: unknown): number {
  if (typeof now !== "number" || !Number.isFinite(now) || now < 0) {
    throw new InvalidInputError("now", "expected unix seconds as a finite non-negative number", {
      metaMessages: [
        "The verifier has no implicit clock: pass `now: Math.floor(Date.now() / 1000)` explicitly.",
      ],
    });
  }
  return Math.floor(now);
}

function keyOfCollateral(c: NormalizedCollateral): string {
  const h = sha256.create();
  for (const k of Object.keys(c).sort()) h.update(utf8ToBytes(`${k}=${c[k as keyof NormalizedCollateral]};`));
  return bytesToHex(h.digest());
}

async function getAnalysis(
  input: Collateral | string,
  policy: ResolvedPolicy,
  rootKey: string,
  cache: VerificationCache | undefined,
): Promise<{ normalized: NormalizedCollateral; key: string; analysis: CollateralAnalysis }> {
  let norm = typeof input === "object" ? cache?._normalized.get(input) : undefined;
  if (!norm) {
    const normalized = normalizeCollateral(input);
    // The content key (sha256 of the collateral) is only needed to index a cache.
    norm = { normalized, key: cache ? keyOfCollateral(normalized) : "" };
    if (cache && typeof input === "object") cache._normalized.set(input, norm);
  }
  if (!cache) return { ...norm, analysis: await analyzeCollateral(norm.normalized, policy.rootCa) };
  const akey = `${norm.key}:${rootKey}`;
  let pending = cache?._collateral.get(akey);
  cache?._hit(pending !== undefined);
  if (!pending) {
    pending = analyzeCollateral(norm.normalized, policy.rootCa);
    cache?._collateral.set(akey, pending);
  }
  return { ...norm, analysis: await pending };
}

/** The failure reason of a validity window, by what it belongs to. */
const windowReasons = {
  crl: { expired: "crl_expired", early: "crl_not_yet_valid" },
  certificate: { expired: "certificate_expired", early: "certificate_not_yet_valid" },
  collateral: { expired: "collateral_expired", early: "collateral_not_yet_valid" },
} as const satisfies Record<string, { expired: Reason; early: Reason }>;

function windowCheck(
  analysis: CollateralAnalysis,
  pckChain: ParsedCert[],
  now: number,
): { check: Check; lo: number; hi: number } {
  const windows = [
    ...analysis.windows,
    ...pckChain.map((c, i) => ({
      what: `quote PCK chain[${i}]`,
      kind: "certificate" as const,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
    })),
  ];
  let lo = Number.NEGATIVE_INFINITY;
  let hi = Number.POSITIVE_INFINITY;
  for (const w of windows) {
    lo = Math.max(lo, w.notBefore);
    hi = Math.min(hi, w.notAfter);
  }
  const iso = (s: number) => (Number.isFinite(s) ? new Date(s * 1000).toISOString() : String(s));
  const name = "collateral.validity";
  for (const w of windows) {
    const expired = now > w.notAfter;
    if (!expired && now >= w.notBefore) continue;
    const [reason, message, detail] = expired
      ? [windowReasons[w.kind].expired, `expired at ${iso(w.notAfter)}`, { notAfter: w.notAfter }]
      : [windowReasons[w.kind].early, `is not valid before ${iso(w.notBefore)}`, { notBefore: w.notBefore }];
    return {
      check: fail(name, reason, `${w.what} ${message} (now ${iso(now)})`, { what: w.what, ...detail, now }),
      lo,
      hi,
    };
  }
  return {
    check: pass(name, `all ${windows.length} collateral items and certificates are valid at now`, {
      validFrom: lo,
      validUntil: hi,
      now,
    }),
    lo,
    hi,
  };
}

function summary(q: ParsedQuote): QuoteSummary {
  const s: QuoteSummary = {
    version: q.version,
    teeType: q.teeType,
    qeVendorId: q.qeVendorId,
    reportData: bytesToHex(q.reportData),
  };
  if (q.td) s.td = q.td;
  if (q.sgx) s.sgx = q.sgx;
  return s;
}

type Extra = {
  [K in keyof Omit<VerifyQuoteReturnType, "ok" | "checks">]?: VerifyQuoteReturnType[K] | undefined;
};

function finish(checks: Check[], extra: Extra): VerifyQuoteReturnType {
  const f = firstFailure(checks);
  const out: VerifyQuoteReturnType = { ok: f === undefined, checks, cached: extra.cached ?? false };
  if (f) {
    if (f.reason) out.reason = f.reason;
    out.message = f.message;
  }
  for (const [k, v] of Object.entries(extra))
    if (v !== undefined && k !== "cached") (out as unknown as Record<string, unknown>)[k] = v;
  return out;
}

const rootKeys = new WeakMap<Uint8Array, string>();
function rootKeyOf(root: Uint8Array): string {
  let k = rootKeys.get(root);
  if (!k) {
    k = bytesToHex(sha256(root));
    rootKeys.set(root, k);
  }
  return k;
}

/**
 * Verifies an Intel TDX (v4/v5) or SGX (v3) DCAP quote against collateral at an explicit `now`: the full
 * signature chain to the root CA with @phala/dcap-qvl, plus what it lacks: CRL signatures and issuers, CRL and
 * collateral validity windows, issuer-matched PCK revocation, QE vendor id, PCE id, and the TCB status /
 * advisory policy. Never throws for an invalid quote: the result has `ok: false` and a `reason`.
 *
 * @throws {InvalidInputError} when `quote` is not bytes/hex, `now` is missing, or collateral is malformed.
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
  const bytes = toQuoteBytes(quote);
  const cache = options.cache;
  const checks: Check[] = [];

  // 1. structure (parsed once per quote when a cache is given)
  const quoteHash = cache ? bytesToHex(sha256(bytes)) : "";
  let parsed: ParsedQuote;
  let pckChain: ParsedCert[] = [];
  const memo = cache?._parsedQuotes.get(quoteHash) as
    | { parsed: ParsedQuote; pckChain: ParsedCert[] }
    | undefined;
  if (memo) ({ parsed, pckChain } = memo);
  else {
    try {
      parsed = parseQuote(bytes);
      pckChain = parsed.pckChain.map(parseCertificate);
    } catch (e) {
      const msg =
        e instanceof BaseError ? e.shortMessage : `PCK certificate does not parse: ${(e as Error).message}`;
      checks.push(fail("quote.format", "quote_malformed", msg));
      return finish(checks, {});
    }
    cache?._parsedQuotes.set(quoteHash, { parsed, pckChain });
  }
  const q = summary(parsed);
  if (parsed.attestationKeyType !== 2) {
    checks.push(
      fail(
        "quote.format",
        "quote_unsupported",
        `attestation key type ${parsed.attestationKeyType} is not ECDSA-256-with-P-256`,
      ),
    );
    return finish(checks, { quote: q });
  }
  if (parsed.certificationDataType !== 5 || pckChain.length < 2) {
    checks.push(
      fail(
        "quote.format",
        "quote_malformed",
        `certification data type ${parsed.certificationDataType} with ${pckChain.length} certificates; a PCK chain (type 5) is required`,
      ),
    );
    return finish(checks, { quote: q });
  }
  let ext: { pceId: string; fmspc: string };
  try {
    ext = sgxExtension(pckChain[0] as ParsedCert);
  } catch (e) {
    checks.push(fail("quote.format", "quote_malformed", (e as Error).message));
    return finish(checks, { quote: q });
  }
  q.fmspc = ext.fmspc;
  q.pceId = ext.pceId;
  checks.push(
    pass(
      "quote.format",
      `${parsed.teeType.toUpperCase()} quote v${parsed.version} (${parsed.bodyType}), PCK chain of ${pckChain.length}`,
      {
        version: parsed.version,
        teeType: parsed.teeType,
        bodyType: parsed.bodyType,
        fmspc: ext.fmspc,
      },
    ),
  );
  if (!policy.tee.allowedTeeTypes.includes(parsed.teeType)) {
    checks.push(
      fail("quote.tee_type", "tee_type_not_allowed", `TEE type ${parsed.teeType} is not allowed by policy`, {
        allowed: policy.tee.allowedTeeTypes,
      }),
    );
  }

  // 2. collateral
  let input: Collateral | string;
  if (isCollateralSource(collateral)) {
    const ca = /Processor/.test(new TextDecoder().decode((pckChain[0] as ParsedCert).issuer))
      ? "processor"
      : "platform";
    try {
      input = await collateral.getCollateral({ teeType: parsed.teeType, fmspc: ext.fmspc, ca, now });
    } catch (e) {
      throw new CollateralUnavailableError(`fetcher failed for FMSPC ${ext.fmspc}`, { cause: e });
    }
  } else if (collateral === undefined || collateral === null) {
    throw new CollateralUnavailableError("no collateral given");
  } else {
    input = collateral;
  }
  const rootKey = rootKeyOf(policy.rootCa);
  const { normalized, key: collKey, analysis } = await getAnalysis(input, policy, rootKey, cache);
  const { check: validity, lo, hi } = windowCheck(analysis, pckChain, now);
  checks.push(validity);

  // 3. signature chain (dcap-qvl), cached per (quote, collateral, root) inside its validity window
  const qkey = cache ? `${quoteHash}:${collKey}:${rootKey}` : "";
  let dcapResult = cache?._quotes.get(qkey);
  let cached = false;
  let dcapError: string | undefined;
  if (dcapResult && now >= dcapResult.notBefore && now <= dcapResult.notAfter) {
    cached = true;
    cache?._hit(true);
  } else {
    cache?._hit(false);
    dcapResult = undefined;
    try {
      const r = runDcap(bytes, normalized, now, policy.rootCa, rootKey);
      dcapResult = { ...r, notBefore: lo, notAfter: hi };
      cache?._quotes.set(qkey, dcapResult);
    } catch (e) {
      dcapError = (e as Error).message;
    }
  }
  // CRL-based revocation of the quote's PCK chain (issuer-matched), after dcap-qvl verified that chain.
  const revocation = await checkPckRevocation(analysis, pckChain, dcapResult !== undefined);
  if (dcapResult) {
    checks.push(
      pass(
        "quote.signature_chain",
        "quote signed by the attestation key, QE report by the PCK key; PCK chain, TCB info and QE identity (with their issuer chains) verify to the trusted root",
        {
          cached,
        },
      ),
    );
  } else {
    const message = dcapError ?? "unknown";
    let reason = dcapReason(message);
    // dcap-qvl matches serials across all CRLs; our issuer-matched check names which certificate is revoked.
    if (reason === "certificate_revoked" && revocation.reason === "pck_revoked") reason = "pck_revoked";
    checks.push(fail("quote.signature_chain", reason, `dcap-qvl: ${message}`));
  }
  checks.push(analysis.integrity);
  checks.push(revocation);

  // 4. header and PCK policy
  const vendors = policy.tee.allowedQeVendorIds.map((v) =>
    v.replace(/^0x/i, "").replace(/-/g, "").toUpperCase(),
  );
  checks.push(
    vendors.includes(parsed.qeVendorId)
      ? pass("quote.qe_vendor_id", `QE vendor id ${parsed.qeVendorId} is allowed`)
      : fail(
          "quote.qe_vendor_id",
          "qe_vendor_not_allowed",
          `QE vendor id ${parsed.qeVendorId} is not allowed`,
          { qeVendorId: parsed.qeVendorId, allowed: vendors },
        ),
  );
  const pceIds = policy.tee.allowedPceIds.map((v) => v.replace(/^0x/i, "").toUpperCase());
  if (!analysis.tcbInfo) checks.push(skip("quote.pce_id", "TCB info unavailable"));
  else if (analysis.tcbInfo.pceId !== ext.pceId || !pceIds.includes(ext.pceId)) {
    checks.push(
      fail(
        "quote.pce_id",
        "pce_id_not_allowed",
        `PCK PCEID ${ext.pceId} (TCB info ${analysis.tcbInfo.pceId}) is not allowed`,
        {
          pckPceId: ext.pceId,
          tcbInfoPceId: analysis.tcbInfo.pceId,
          allowed: pceIds,
        },
      ),
    );
  } else checks.push(pass("quote.pce_id", `PCEID ${ext.pceId} matches the TCB info and is allowed`));

  // 5. TCB status policy
  let tcbStatus: TcbStatus | undefined;
  let advisoryIds: string[] | undefined;
  if (!dcapResult) checks.push(skip("quote.tcb_status", "signature chain did not verify"));
  else {
    tcbStatus = dcapResult.status as TcbStatus;
    advisoryIds = dcapResult.advisoryIds;
    const details = { status: tcbStatus, advisoryIds, allowedStatuses: policy.tee.allowedTcbStatuses };
    if (!policy.tee.allowedTcbStatuses.includes(tcbStatus)) {
      checks.push(
        fail(
          "quote.tcb_status",
          "tcb_status_not_allowed",
          `TCB status ${tcbStatus} is not allowed by policy`,
          details,
        ),
      );
    } else {
      const allowedAdv = policy.tee.allowedAdvisoryIds;
      const bad = allowedAdv ? advisoryIds.filter((a) => !allowedAdv.includes(a)) : [];
      checks.push(
        bad.length > 0
          ? fail(
              "quote.tcb_status",
              "advisory_not_allowed",
              `advisories not allowed by policy: ${bad.join(", ")}`,
              details,
            )
          : pass(
              "quote.tcb_status",
              `TCB status ${tcbStatus}${advisoryIds.length ? ` with ${advisoryIds.join(", ")}` : ""} is allowed`,
              details,
            ),
      );
    }
  }
  return finish(checks, { quote: q, tcbStatus, advisoryIds, tcbInfo: analysis.tcbInfo, cached });
}
