import { blocked, type Check, fail, pass, type Reason } from "../check.js";
import { parsed, type QuoteContext, readCollateral } from "../quote-context.js";

const NAME = "collateral.validity";

/** The failure reason of a validity window, by what it belongs to. */
const windowReasons = {
  crl: { expired: "crl_expired", early: "crl_not_yet_valid" },
  certificate: { expired: "certificate_expired", early: "certificate_not_yet_valid" },
  collateral: { expired: "collateral_expired", early: "collateral_not_yet_valid" },
} as const satisfies Record<string, { expired: Reason; early: Reason }>;

const iso = (s: number) => (Number.isFinite(s) ? new Date(s * 1000).toISOString() : String(s));

/**
 * `collateral.validity`: TCB info, QE identity, both CRLs and every certificate are valid at `now`. A date
 * out of its window fails at once; all in their windows pass only once the collateral's integrity verified.
 */
export function collateralValidity(ctx: QuoteContext): Check {
  if (!parsed(ctx)) return blocked(NAME, "quote.format");
  if (!readCollateral(ctx)) return blocked(NAME, "collateral.integrity");
  const { now, windows } = ctx;
  for (const w of windows) {
    const expired = now > w.notAfter;
    if (!expired && now >= w.notBefore) continue;
    const [reason, message, detail] = expired
      ? [windowReasons[w.kind].expired, `expired at ${iso(w.notAfter)}`, { notAfter: w.notAfter }]
      : [windowReasons[w.kind].early, `is not valid before ${iso(w.notBefore)}`, { notBefore: w.notBefore }];
    return fail(NAME, reason, `${w.what} ${message} (now ${iso(now)})`, { what: w.what, ...detail, now });
  }
  // The dates are the collateral's own claim until its signatures verified: they pass only then.
  if (readCollateral(ctx)?.analysis.integrity.status !== "pass") return blocked(NAME, "collateral.integrity");
  const validFrom = Math.max(...windows.map((w) => w.notBefore));
  const validUntil = Math.min(...windows.map((w) => w.notAfter));
  return pass(NAME, `all ${windows.length} collateral items and certificates are valid at now`, {
    validFrom,
    validUntil,
    now,
  });
}
