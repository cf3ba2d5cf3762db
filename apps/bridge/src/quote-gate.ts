import { create } from "@bufbuild/protobuf";
import { type ComputeProof, ComputeProofSchema, FailureReason } from "@chaoschain/zerog-core";
import {
  type CollateralSource,
  CollateralUnavailableError,
  InvalidInputError,
  type PolicyInput,
  readCollateralRequest,
  resolvePolicy,
  type VerificationCache,
  verifyProof,
} from "@chaoschain/zerog-verifier";
import { BackendError } from "./backend.js";
import { providerEvidence, type QuoteCollateralBytes } from "./zerog/proof.js";
import type { ProviderAttestation } from "./zerog/provider-http.js";

/** The name recorded in `bridge_checks.skipped` when quote verification is switched off. */
export const QUOTE_CHECK = "quote";

/** What the bridge checked, for `ComputeResult.bridge_checks`. */
export interface GateChecks {
  /** True when quotes are checked against collateral and the policy (false when skipped). */
  quoteVerified: boolean;
  /** Checks the operator switched off (`["quote"]` with --unsafe-skip-quote-verification). */
  skipped: string[];
  /** sha256 (hex) of the trust anchor quotes are checked under. */
  rootCaSha256: string;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

export interface QuoteGate {
  readonly checks: GateChecks;
  /**
   * Admits a provider before it is trusted with anything: the Intel collateral of its quote fetched (cached
   * by the source), then every attestation step of the verifier under the policy (the quote and its
   * collateral, the report data binding `signer`, measurements, event log and workload, GPU evidence).
   * Returns the exact collateral to embed in its proofs (undefined when quote checks are skipped). Throws
   * BackendError: `collateral_unavailable` when the collateral cannot be fetched, `proof_invalid`
   * (retryable: another provider may do) when the attestation does not verify.
   */
  admit(
    attestation: ProviderAttestation,
    signer: string,
    provider: string,
    cache: VerificationCache,
  ): Promise<QuoteCollateralBytes | undefined>;
  /**
   * The check of a whole proof with the collateral it embeds, under the policy. With quote checks
   * skipped, only what needs no quote (format, signatures, output, freshness) is required.
   */
  checkProof(proof: ComputeProof, cache: VerificationCache): Promise<Verdict>;
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

/** The verifier's steps that concern the attestation alone (not a response or a delivery). */
const ATTESTATION_STEP = /^(quote|collateral|tee|gpu)\./;
/** Steps that need no quote: what a proof must pass even when quote checks are skipped. */
const WITHOUT_QUOTE = /^(proof|response|result|fine_tuning)\.|^freshness$/;

/**
 * The bridge's gate on TEE evidence: one code path for Intel's PCS, a PCCS and the devnet's simulator.
 *
 * @example
 * const gate = createQuoteGate({ source: createPcsCollateralSource({ url }), policy, skipQuote: false });
 * const collateral = await gate.admit(attestation, signer, provider, cache); // throws when it must not be trusted
 */
export function createQuoteGate(p: CreateQuoteGateParameters): QuoteGate {
  const now = p.now ?? clock;
  const checks: GateChecks = {
    quoteVerified: !p.skipQuote,
    skipped: p.skipQuote ? [QUOTE_CHECK] : [],
    rootCaSha256: resolvePolicy(p.policy).rootKey,
  };
  return {
    checks,
    async admit(attestation, signer, provider, cache) {
      if (p.skipQuote) return undefined;
      const t = now();
      const { quote } = providerEvidence(attestation, signer);
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
      let collateral: QuoteCollateralBytes;
      try {
        collateral = (await p.source.getCollateral(request)) as QuoteCollateralBytes;
      } catch (err) {
        if (!(err instanceof CollateralUnavailableError)) throw err;
        throw new BackendError(
          FailureReason.COLLATERAL_UNAVAILABLE,
          `could not fetch the Intel collateral of provider ${provider}'s quote (FMSPC ${request.fmspc}): ${err.shortMessage}`,
          { cause: err },
        );
      }
      const evidence = providerEvidence(attestation, signer, "", collateral);
      const report = await verifyProof(
        create(ComputeProofSchema, {
          method: "tee-ml",
          enclaveAddress: signer,
          attestation: evidence.quote,
          dockerDigest: evidence.dockerDigest,
          tee: evidence.tee,
          ...(evidence.gpu ? { gpu: evidence.gpu } : {}),
        }),
        { now: t, policy: p.policy, cache },
      );
      const failed = report.checks.find((c) => ATTESTATION_STEP.test(c.name) && c.status === "fail");
      if (failed)
        throw new BackendError(
          FailureReason.PROOF_INVALID,
          `the TEE attestation of provider ${provider} does not verify: ${failed.name}: ${failed.reason}: ${failed.message}`,
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
