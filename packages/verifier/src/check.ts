/**
 * Closed set of failure reasons. A failing check carries exactly one; a report's `reason` is its first failing
 * check's. Stable strings: safe to switch on and to store.
 */
export type Reason =
  // input
  | "proof_malformed"
  | "input_too_large"
  // quote structure and signatures
  | "quote_missing"
  | "quote_malformed"
  | "quote_unsupported"
  | "tee_type_not_allowed"
  | "quote_signature_invalid"
  | "qe_report_signature_invalid"
  | "qe_report_hash_mismatch"
  | "qe_identity_mismatch"
  | "td_attributes_invalid"
  | "tdx_module_mismatch"
  | "qe_vendor_not_allowed"
  | "quote_invalid"
  // certificates, CRLs and collateral
  | "collateral_missing"
  | "collateral_invalid"
  | "collateral_expired"
  | "collateral_not_yet_valid"
  | "certificate_chain_invalid"
  | "untrusted_root"
  | "certificate_expired"
  | "certificate_not_yet_valid"
  | "certificate_revoked"
  | "pck_revoked"
  | "crl_signature_invalid"
  | "crl_issuer_mismatch"
  | "crl_expired"
  | "crl_not_yet_valid"
  | "tcb_info_signature_invalid"
  | "qe_identity_signature_invalid"
  | "fmspc_mismatch"
  | "pce_id_not_allowed"
  | "tcb_level_not_found"
  | "tcb_status_not_allowed"
  | "advisory_not_allowed"
  // enclave signature and content binding
  | "signature_invalid"
  | "signature_mismatch"
  | "enclave_pubkey_mismatch"
  | "signing_algo_unsupported"
  | "request_hash_mismatch"
  | "response_hash_mismatch"
  | "signed_text_mismatch"
  | "execution_hash_mismatch"
  | "output_mismatch"
  | "body_missing"
  // fine-tuning delivery
  | "delivery_inconsistent"
  | "tag_signature_invalid"
  | "settlement_signature_invalid"
  // report data and workload identity
  | "report_data_mismatch"
  | "pin_tee_type_mismatch"
  | "mrtd_not_allowed"
  | "rtmr_not_allowed"
  | "mrenclave_not_allowed"
  | "mrsigner_not_allowed"
  | "isv_prod_id_not_allowed"
  | "isv_svn_too_low"
  | "event_log_missing"
  | "event_log_invalid"
  | "rtmr_mismatch"
  | "compose_hash_missing"
  | "compose_hash_duplicate"
  | "compose_hash_after_system_ready"
  | "compose_hash_mismatch"
  | "docker_digest_mismatch"
  | "docker_digest_not_allowed"
  // GPU
  | "gpu_evidence_missing"
  | "gpu_evidence_unverifiable"
  | "gpu_nonce_mismatch"
  | "gpu_token_invalid"
  | "gpu_attestation_failed"
  // freshness and method
  | "stale_timestamp"
  | "timestamp_in_future"
  | "timestamp_mismatch"
  | "freshness_unsigned"
  | "method_unsupported"
  // policy on the report itself
  | "check_skipped"
  | "verifier_error";

/** Why a check did not run. */
export type SkipReason =
  /** The policy pins nothing for this step (e.g. no MRTD allow-list). */
  | "not_pinned"
  /** The input has nothing for this step and the policy does not require it. */
  | "not_required"
  /** The step does not exist for this TEE type (e.g. RTMR3 replay for an SGX quote). */
  | "not_applicable"
  /** The policy explicitly opts out (`gpu.ignore`). */
  | "ignored_by_policy"
  /** An earlier step this one needs failed or was skipped. */
  | "dependency_failed"
  /**
   * The step needs what no proof carries and an offline verifier cannot have (e.g. the wallet key that
   * decrypts a fine-tuned model): whoever holds it checks it (the bridge does before it returns a result).
   */
  | "not_checkable_offline";

/** The named steps of {@link verifyProof} and {@link verifyQuote}, in order. */
export const CHECK_NAMES = [
  "proof.format",
  "proof.method",
  "response.bodies",
  "response.hashes",
  "response.signature",
  "response.enclave_pubkey",
  "response.execution_hash",
  "fine_tuning.delivery",
  "fine_tuning.tag_signature",
  "fine_tuning.settlement_signature",
  "fine_tuning.artifact",
  "result.output",
  "quote.present",
  "quote.format",
  "quote.tee_type",
  "collateral.validity",
  "quote.signature_chain",
  "collateral.integrity",
  "quote.pck_revocation",
  "quote.qe_vendor_id",
  "quote.pce_id",
  "quote.tdx_module",
  "quote.tcb_status",
  "tee.type",
  "tee.report_data",
  "tee.measurements",
  "tee.event_log",
  "tee.compose_hash",
  "tee.workload",
  "gpu.evidence",
  "freshness",
] as const;

export type CheckName = (typeof CHECK_NAMES)[number];

export type CheckStatus = "pass" | "fail" | "skipped";

/** One named verification step: passed, failed (with a reason) or skipped (with why). */
export interface Check {
  name: CheckName;
  status: CheckStatus;
  /** Set when `status` is "fail". */
  reason?: Reason;
  /** Set when `status` is "skipped". */
  skipReason?: SkipReason;
  /** One human-readable sentence: what was checked and what was found, or why it was not checked. */
  message: string;
  details?: Record<string, unknown>;
}

export function pass(name: CheckName, message: string, details?: Record<string, unknown>): Check {
  return details ? { name, status: "pass", message, details } : { name, status: "pass", message };
}

export function fail(
  name: CheckName,
  reason: Reason,
  message: string,
  details?: Record<string, unknown>,
): Check {
  const c: Check = { name, status: "fail", reason, message };
  if (details) c.details = details;
  return c;
}

export function skip(
  name: CheckName,
  skipReason: SkipReason,
  message: string,
  details?: Record<string, unknown>,
): Check {
  const c: Check = { name, status: "skipped", skipReason, message };
  if (details) c.details = details;
  return c;
}

/** A skipped check for a step whose input an earlier step failed to provide. */
export function blocked(name: CheckName, by: CheckName): Check {
  return skip(name, "dependency_failed", `not checked: ${by} did not pass`, { dependsOn: by });
}

/** First failing check. */
export function firstFailure(checks: readonly Check[]): Check | undefined {
  return checks.find((c) => c.status === "fail");
}
