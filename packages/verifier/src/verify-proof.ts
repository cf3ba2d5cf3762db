import { CHECK_NAMES, type Check, type CheckName, fail, firstFailure, type Reason, skip } from "./check.js";
import { fineTuningArtifact } from "./checks/fine-tuning-artifact.js";
import { fineTuningDelivery } from "./checks/fine-tuning-delivery.js";
import { fineTuningSettlementSignature } from "./checks/fine-tuning-settlement-signature.js";
import { fineTuningTagSignature } from "./checks/fine-tuning-tag-signature.js";
import { freshness } from "./checks/freshness.js";
import { proofFormat } from "./checks/proof-format.js";
import { proofMethod } from "./checks/proof-method.js";
import { quotePresent } from "./checks/quote-present.js";
import { responseBodies } from "./checks/response-bodies.js";
import { responseEnclavePubkey } from "./checks/response-enclave-pubkey.js";
import { responseExecutionHash } from "./checks/response-execution-hash.js";
import { responseHashes } from "./checks/response-hashes.js";
import { responseSignature } from "./checks/response-signature.js";
import { resultOutput } from "./checks/result-output.js";
import { teeComposeHash } from "./checks/tee-compose-hash.js";
import { teeEventLog } from "./checks/tee-event-log.js";
import { teeMeasurements } from "./checks/tee-measurements.js";
import { teeReportData } from "./checks/tee-report-data.js";
import { teeType } from "./checks/tee-type.js";
import { teeWorkload, weakWorkloadPin } from "./checks/tee-workload.js";
import type { Collateral, CollateralSource } from "./collateral.js";
import { BaseError } from "./errors/base.js";
import type { CollateralUnavailableError, InvalidInputError } from "./errors/input.js";
import { verifyGpuEvidence } from "./gpu.js";
import type { ComputeProofInput, ComputeResultInput } from "./normalize-proof.js";
import type { PolicyInput, ReportDataBindingName, TcbStatus } from "./policy.js";
import {
  blockedByFormat,
  type ProofContext,
  proofContext,
  proofOf,
  signedResponse,
} from "./proof-context.js";
import type { CollateralOrigin } from "./quote-context.js";
import type { SignedUsage } from "./read-response-body.js";
import { applyRequirements } from "./report.js";
import type { VerificationCache } from "./verification-cache.js";
import { QUOTE_CHECKS, type QuoteSummary, quoteReport } from "./verify-quote.js";

export interface VerifyProofParameters {
  /** Verification time, integer unix seconds (no implicit clock). */
  now: number;
  policy?: PolicyInput | undefined;
  /**
   * Collateral for the proof's quote: an object, JSON text, or a CollateralSource. Default: the collateral
   * embedded in the proof (`tee.collateral`), verified like any other; given collateral wins.
   */
  collateral?: Collateral | string | CollateralSource | undefined;
  /** Reuse work that depends only on bytes across proofs (e.g. one provider's many results). */
  cache?: VerificationCache | undefined;
}

/** Something valid but worth knowing. */
export interface Warning {
  code: "weak_workload_pin";
  message: string;
}

export interface VerifyProofReturnType {
  /** True when no check failed (skips count as failures only under `strict` / `requiredChecks`). */
  ok: boolean;
  /** Reason of the first failing check. */
  reason?: Reason;
  message?: string;
  checks: Check[];
  /** Names of the checks that were skipped (each says why). */
  skipped: CheckName[];
  warnings: Warning[];
  /** EIP-55 address recovered from the enclave signature. */
  signer?: string;
  tcbStatus?: TcbStatus;
  advisoryIds?: string[];
  quote?: QuoteSummary;
  /** Where the quote's collateral came from. */
  collateral?: CollateralOrigin;
  /** Report-data encoding that matched. */
  reportDataBinding?: ReportDataBindingName;
  /** Compose hash replayed from the RTMR3 event log. */
  composeHash?: string;
  /** Assistant text of the signed response body (choice 0), once its signature verified. */
  output?: string;
  /** The signed response's `created` (unix seconds), once its signature verified. */
  signedTime?: number;
  /** The token counts the signed response reports (when it does), once its signature verified. */
  usage?: SignedUsage;
}

export type VerifyProofErrorType = InvalidInputError | CollateralUnavailableError;

type Step = readonly [CheckName, (ctx: ProofContext) => Check];

/** The proof's steps, in order (the quote's come from `verifyQuote`'s). */
const BEFORE_QUOTE: Step[] = [
  ["proof.format", proofFormat],
  ["proof.method", proofMethod],
  ["response.bodies", responseBodies],
  ["response.hashes", responseHashes],
  ["response.signature", responseSignature],
  ["response.enclave_pubkey", responseEnclavePubkey],
  ["response.execution_hash", responseExecutionHash],
];
/** A fine-tuning proof has no signed exchange: its delivery's steps stand in for the response's. */
const FINE_TUNING: Step[] = [
  ["proof.format", proofFormat],
  ["proof.method", proofMethod],
  ["fine_tuning.delivery", fineTuningDelivery],
  ["fine_tuning.tag_signature", fineTuningTagSignature],
  ["fine_tuning.settlement_signature", fineTuningSettlementSignature],
  ["fine_tuning.artifact", fineTuningArtifact],
];
const OUTPUT: Step = ["result.output", resultOutput];
const PRESENT: Step = ["quote.present", quotePresent];
const AFTER_QUOTE: Step[] = [
  ["tee.type", teeType],
  ["tee.report_data", teeReportData],
  ["tee.measurements", teeMeasurements],
  ["tee.event_log", teeEventLog],
  ["tee.compose_hash", teeComposeHash],
  ["tee.workload", teeWorkload],
];
const FRESHNESS: Step = ["freshness", freshness];

/** A step that throws is a bug: it fails closed with `verifier_error` instead of escaping. */
function guarded(name: CheckName, step: () => Check): Check {
  try {
    return step();
  } catch (e) {
    if (e instanceof BaseError) throw e;
    return fail(name, "verifier_error", `internal error in ${name}: ${(e as Error)?.message ?? String(e)}`);
  }
}

function quoteChecks(ctx: ProofContext, report: ReturnType<typeof quoteReport> | undefined): Check[] {
  if (report) return report.checks;
  const p = proofOf(ctx);
  return QUOTE_CHECKS.map((name) =>
    !p
      ? blockedByFormat(name)
      : p.attestation.length === 0 && !ctx.policy.tee.requireQuote
        ? skip(name, "not_required", "no quote (not required by policy)")
        : skip(name, "dependency_failed", "not checked: quote.present did not pass", {
            dependsOn: "quote.present",
          }),
  );
}

async function gpuCheck(ctx: ProofContext): Promise<Check> {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat("gpu.evidence");
  const q = ctx.quote;
  const reportData = q?.dcap?.result && q.parse.ok ? q.parse.quote.reportData : undefined;
  return verifyGpuEvidence({ gpu: p.gpu, reportData, now: ctx.now, policy: ctx.policy, cache: ctx.cache });
}

function extras(
  ctx: ProofContext,
  q: ReturnType<typeof quoteReport> | undefined,
  checks: Check[],
): Omit<VerifyProofReturnType, "ok" | "checks" | "skipped" | "warnings"> {
  const out: ReturnType<typeof extras> = {};
  const sig = ctx.signature?.ok ? ctx.signature.value : undefined;
  if (sig?.ok) out.signer = sig.signer;
  if (q?.quote) out.quote = q.quote;
  if (q?.tcbStatus) {
    out.tcbStatus = q.tcbStatus;
    out.advisoryIds = q.advisoryIds ?? [];
  }
  if (ctx.collateralOrigin) out.collateral = ctx.collateralOrigin;
  const detail = (name: CheckName, key: string) => {
    const c = checks.find((x) => x.name === name && x.status === "pass");
    return c?.details?.[key];
  };
  const tagSigner = detail("fine_tuning.tag_signature", "signer");
  if (tagSigner) out.signer = tagSigner as string;
  const binding = detail("tee.report_data", "binding");
  if (binding) out.reportDataBinding = binding as ReportDataBindingName;
  const composeHash = detail("tee.compose_hash", "composeHash");
  if (composeHash) out.composeHash = composeHash as string;
  const response = signedResponse(ctx);
  if (response?.ok) {
    out.output = response.value.output;
    if (response.value.created.length === 1) out.signedTime = response.value.created[0] as number;
    if (response.value.usage) out.usage = response.value.usage;
  }
  return out;
}

/**
 * Verifies a `ComputeProof` (or a whole `ComputeResult`, output + proof) offline, as named steps (see the
 * README's step table): the proof's format and method; the response bodies, hashes and enclave signature;
 * a result's output against the signed response; the quote (`verifyQuote`'s steps); the report-data binding;
 * the measurements, event log, compose hash and workload; the GPU evidence; freshness from the signed time.
 * Every check passes, fails (with a reason) or is skipped (with why). An invalid proof returns
 * `{ ok: false, reason }`; only caller misuse throws.
 *
 * @throws {InvalidInputError} for a bad `now` or policy, an input that is not an object or is ambiguous, or
 *   malformed caller-given collateral.
 * @throws {CollateralUnavailableError} when a CollateralSource fails.
 * @example
 * const report = await verifyProof(result, { now: Math.floor(Date.now() / 1000), collateral, policy });
 * if (!report.ok) console.error(report.reason, report.message);
 * for (const name of report.skipped) console.warn("not checked:", name);
 */
export async function verifyProof(
  input: ComputeResultInput | ComputeProofInput,
  options: VerifyProofParameters,
): Promise<VerifyProofReturnType> {
  const ctx = await proofContext(input, options);
  const run = ([name, step]: Step) => guarded(name, () => step(ctx));
  const q = ctx.quote ? quoteReport(ctx.quote) : undefined;
  const raw: Check[] = [
    ...(proofOf(ctx)?.fineTuning ? FINE_TUNING : BEFORE_QUOTE).map(run),
    ...(ctx.output !== undefined ? [run(OUTPUT)] : []),
    run(PRESENT),
    ...quoteChecks(ctx, q),
    ...AFTER_QUOTE.map(run),
    await gpuCheck(ctx),
    run(FRESHNESS),
  ];
  // Every step of a proof, of either kind: a required step this proof does not have fails (a fine-tuning proof
  // has no response.signature, a bare proof no result.output), never silently dropped.
  const checks = applyRequirements(raw, ctx.policy, CHECK_NAMES);
  const f = firstFailure(checks);
  const warnings: Warning[] = [];
  if (weakWorkloadPin(ctx.policy.tee, ctx.policy.dockerDigests))
    warnings.push({
      code: "weak_workload_pin",
      message:
        "dockerDigests is pinned without MRTD and RTMR0-2: the TD's own OS and firmware could extend RTMR3, so pin them too",
    });
  const out: VerifyProofReturnType = {
    ok: f === undefined,
    checks,
    skipped: checks.filter((c) => c.status === "skipped").map((c) => c.name),
    warnings,
    ...extras(ctx, q, checks),
  };
  if (f?.reason) {
    out.reason = f.reason;
    out.message = f.message;
  }
  return out;
}
