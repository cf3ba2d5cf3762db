/**
 * Closed set of failure reasons. A failing check carries exactly one; the report's `reason` is the first
 * failing check's. Stable strings: safe to switch on and to store.
 */
export type Reason =
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
  | "qe_vendor_not_allowed"
  | "quote_invalid"
  // certificates, CRLs and collateral
  | "collateral_missing"
  | "collateral_invalid"
  | "collateral_expired"
  | "collateral_not_yet_valid"
  | "certificate_chain_invalid"
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
  // report data and workload identity
  | "report_data_mismatch"
  | "mrtd_not_allowed"
  | "rtmr_not_allowed"
  | "event_log_missing"
  | "event_log_invalid"
  | "rtmr_mismatch"
  | "compose_hash_mismatch"
  | "docker_digest_mismatch"
  | "docker_digest_not_allowed"
  // GPU
  | "gpu_evidence_missing"
  | "gpu_nonce_mismatch"
  | "gpu_token_invalid"
  | "gpu_attestation_failed"
  // freshness and method
  | "stale_timestamp"
  | "timestamp_in_future"
  | "method_unsupported";

/** One named verification step. */
export interface Check {
  /** Dotted step name, e.g. "quote.signature_chain", "response.signature". */
  name: string;
  ok: boolean;
  /** True when the step could not run because an earlier step failed (then `ok` is false). */
  skipped?: boolean;
  /** Set when `ok` is false and the step ran. */
  reason?: Reason;
  /** One human-readable sentence: what was checked and what was found. */
  message: string;
  details?: Record<string, unknown>;
}

export function pass(name: string, message: string, details?: Record<string, unknown>): Check {
  return details ? { name, ok: true, message, details } : { name, ok: true, message };
}

export function fail(
  name: string,
  reason: Reason,
  message: string,
  details?: Record<string, unknown>,
): Check {
  return details ? { name, ok: false, reason, message, details } : { name, ok: false, reason, message };
}

export function skip(name: string, message: string): Check {
  return { name, ok: false, skipped: true, message };
}

/** First failing (non-skipped) check. */
export function firstFailure(checks: Check[]): Check | undefined {
  return checks.find((c) => !c.ok && !c.skipped) ?? checks.find((c) => !c.ok);
}
