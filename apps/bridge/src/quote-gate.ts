import { BackendError, FailureReason } from "@chaoschain/zerog-core";
import {
  type CollateralSource,
  CollateralUnavailableError,
  type FetchPcsCollateralReturnType,
  InvalidInputError,
  type PolicyInput,
  readCollateralRequest,
  resolvePolicy,
  type VerificationCache,
  verifyProof,
  verifyQuote,
} from "@chaoschain/zerog-verifier";

/** The name recorded in `bridge_checks.skipped` when quote verification is switched off. */
export const QUOTE_CHECK = "quote";

/** What the bridge checked, for `ComputeResult.bridge_checks`. */
export interface GateChecks {
  /** True when the quote was checked against collateral and the policy (false when skipped). */
  quoteVerified: boolean;
  /** Checks the operator switched off (`["quote"]` with --unsafe-skip-quote-verification). */
  skipped: string[];
  /** sha256 (hex) of the trust anchor quotes are checked under. */
  rootCaSha256: string;
}

export interface QuoteGate {
  readonly checks: GateChecks;
  /**
   * Checks a provider's quote before the provider is trusted: its collateral fetched (cached by the
   * source), the quote verified against it under the policy. Returns the exact collateral to embed in
   * proofs (undefined when quote checks are skipped). Throws BackendError: `collateral_unavailable`
   * when the collateral cannot be fetched, `proof_invalid` (retryable: another provider may do) when
   * the quote does not verify.
   */
  admit(
    quote: Uint8Array,
    provider: string,
    cache: VerificationCache,
  ): Promise<FetchPcsCollateralReturnType | undefined>;
  /**
   * The per-job check of a whole proof with the collateral it embeds, under the policy: ok, or why not.
   * With quote checks skipped, only what does not need the quote is required.
   */
  checkProof(
    proof: Parameters<typeof verifyProof>[0],
    cache: VerificationCache,
  ): Promise<{ ok: true } | { ok: false; reason: string }>;
}

export interface CreateQuoteGateParameters {
  /** Where collateral comes from: `createPcsCollateralSource({ url })` (Intel's PCS, a PCCS, the devnet's). */
  source: CollateralSource;
  /** The bridge's policy (the verifier's defaults, with `--policy` over them). */
  policy: PolicyInput;
  /** --unsafe-skip-quote-verification: no collateral, no quote check, recorded in `skipped`. */
  skipQuote: boolean;
  /** Unix seconds. Default: the clock. */
  now?: () => number;
}

const clock = () => Math.floor(Date.now() / 1000);

/** Checks that need no quote: what a proof must pass even when quote checks are skipped. */
const WITHOUT_QUOTE = /^(proof|response|result)\.|^freshness$/;

/**
 * The bridge's gate on TEE evidence: one code path for Intel's PCS, a PCCS and the devnet's simulator.
 *
 * @example
 * const gate = createQuoteGate({ source: createPcsCollateralSource({ url }), policy, skipQuote: false });
 * const collateral = await gate.admit(quote, provider, cache); // throws BackendError when it must not be trusted
 */
export function createQuoteGate(p: CreateQuoteGateParameters): QuoteGate {
  const now = p.now ?? clock;
  const resolved = resolvePolicy(p.policy);
  const checks: GateChecks = {
    quoteVerified: !p.skipQuote,
    skipped: p.skipQuote ? [QUOTE_CHECK] : [],
    rootCaSha256: resolved.rootKey,
  };
  return {
    checks,
    async admit(quote, provider, cache) {
      if (p.skipQuote) return undefined;
      const t = now();
      let request: ReturnType<typeof readCollateralRequest>;
      try {
        request = readCollateralRequest(quote, t);
      } catch (err) {
        if (!(err instanceof InvalidInputError)) throw err;
        throw new BackendError(
          FailureReason.PROOF_INVALID,
          `the TEE quote of provider ${provider} is unusable: ${err.shortMessage}`,
          { cause: err, retryable: true },
        );
      }
      let collateral: FetchPcsCollateralReturnType;
      try {
        collateral = (await p.source.getCollateral(request)) as FetchPcsCollateralReturnType;
      } catch (err) {
        if (!(err instanceof CollateralUnavailableError)) throw err;
        throw new BackendError(
          FailureReason.COLLATERAL_UNAVAILABLE,
          `could not fetch the Intel collateral of provider ${provider}'s quote (FMSPC ${request.fmspc}): ${err.shortMessage}`,
          { cause: err },
        );
      }
      const report = await verifyQuote(quote, collateral, { now: t, policy: p.policy, cache });
      if (!report.ok)
        throw new BackendError(
          FailureReason.PROOF_INVALID,
          `the TEE quote of provider ${provider} does not verify: ${report.reason}: ${report.message}`,
          { retryable: true },
        );
      return collateral;
    },
    async checkProof(proof, cache) {
      const report = await verifyProof(proof, { now: now(), policy: p.policy, cache });
      const failed = report.checks.find(
        (c) => c.status === "fail" && (!p.skipQuote || WITHOUT_QUOTE.test(c.name)),
      );
      return failed
        ? { ok: false, reason: `${failed.name}: ${failed.reason}: ${failed.message}` }
        : { ok: true };
    },
  };
}
