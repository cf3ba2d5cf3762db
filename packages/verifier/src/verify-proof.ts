import { sha256 } from "@noble/hashes/sha2.js";
import type { Collateral, CollateralSource } from "./collateral.js";
import { BaseError } from "./errors/base.js";
import type { CollateralUnavailableError, InvalidInputError } from "./errors/input.js";
import { composeHashOf, replayEventLog } from "./event-log.js";
import { verifyGpuEvidence } from "./gpu.js";
import { bytesToHex, equalBytes, hexToBytesStrict, utf8ToBytes } from "./internal/bytes.js";
import {
  type ComputeProofInput,
  type ComputeResultInput,
  type NormalizedProof,
  normalizeProof,
  splitResult,
} from "./normalize-proof.js";
import { outputFromResponseBody } from "./output-from-response-body.js";
import {
  type PolicyInput,
  type ReportDataBindingName,
  type ResolvedPolicy,
  resolvePolicy,
  type TcbStatus,
} from "./policy.js";
import { type Check, fail, firstFailure, pass, type Reason } from "./reasons.js";
import { expectedReportData, toChecksumAddress } from "./report-data.js";
import type { VerificationCache } from "./verification-cache.js";
import { assertNow, type QuoteSummary, verifyQuote } from "./verify-quote.js";
import { verifyResponseSignature } from "./verify-response-signature.js";

export interface VerifyProofParameters {
  /** Verification time, unix seconds (no implicit clock). */
  now: number;
  policy?: PolicyInput | undefined;
  /** Collateral for the proof's quote: an object, JSON text, or a CollateralSource (fetcher + cache). */
  collateral?: Collateral | string | CollateralSource | undefined;
  /** Reuse collateral parsing and quote verification across proofs (e.g. one provider's many results). */
  cache?: VerificationCache | undefined;
}

export interface VerifyProofReturnType {
  ok: boolean;
  /** Reason of the first failing check. */
  reason?: Reason;
  message?: string;
  checks: Check[];
  /** EIP-55 address recovered from the enclave signature. */
  signer?: string;
  tcbStatus?: TcbStatus;
  advisoryIds?: string[];
  quote?: QuoteSummary;
  /** Report-data encoding that matched. */
  reportDataBinding?: ReportDataBindingName;
  /** Compose hash replayed from the RTMR3 event log. */
  composeHash?: string;
  /** Assistant text extracted from the signed response body (chat completions). */
  output?: string;
}

export type VerifyProofErrorType = InvalidInputError | CollateralUnavailableError;

function signatureChecks(
  p: NormalizedProof,
  output: string | undefined,
  checks: Check[],
  cache: VerificationCache | undefined,
): { signer?: string; extracted?: string } {
  const out: { signer?: string; extracted?: string } = {};
  if (p.method !== "" && p.method !== "tee-ml") {
    checks.push(
      fail("proof.method", "method_unsupported", `method "${p.method}" is not verifiable here (only tee-ml)`),
    );
  }
  if (p.signingAlgo !== "" && p.signingAlgo.toLowerCase() !== "ecdsa") {
    checks.push(
      fail("proof.method", "signing_algo_unsupported", `signing algorithm "${p.signingAlgo}" is not ecdsa`),
    );
  }
  if (p.requestBody.length === 0 || p.responseBody.length === 0) {
    checks.push(
      fail("response.bodies", "body_missing", "the proof must carry the exact request and response bytes"),
    );
    return out;
  }
  const reqHash = bytesToHex(sha256(p.requestBody));
  const respHash = bytesToHex(sha256(p.responseBody));
  if (p.requestHash !== "" && p.requestHash.toLowerCase() !== reqHash) {
    checks.push(
      fail("response.hashes", "request_hash_mismatch", "request_hash is not sha256 of request_body", {
        claimed: p.requestHash,
        actual: reqHash,
      }),
    );
  } else if (p.responseHash !== "" && p.responseHash.toLowerCase() !== respHash) {
    checks.push(
      fail("response.hashes", "response_hash_mismatch", "response_hash is not sha256 of response_body", {
        claimed: p.responseHash,
        actual: respHash,
      }),
    );
  } else {
    checks.push(
      pass("response.hashes", "request and response hashes are sha256 of the carried bodies", {
        requestHash: reqHash,
        responseHash: respHash,
      }),
    );
  }
  const enclave = toChecksumAddress(p.enclaveAddress, "proof.enclave_address");
  const sig = verifyResponseSignature({
    requestBody: p.requestBody,
    responseBody: p.responseBody,
    signedText: p.signedText,
    signature: p.signature,
    expectedAddress: enclave,
    cache,
  });
  if (!sig.ok) {
    checks.push(
      fail(
        "response.signature",
        sig.reason,
        sig.message,
        sig.signer ? { signer: sig.signer, enclaveAddress: enclave } : { enclaveAddress: enclave },
      ),
    );
  } else {
    out.signer = sig.signer;
    checks.push(
      pass(
        "response.signature",
        `EIP-191 signature over "<sha256 request>:<sha256 response>" recovers to the enclave address ${enclave}`,
        { signer: sig.signer },
      ),
    );
    if (p.enclavePubkey !== "" && p.enclavePubkey.toLowerCase().replace(/^0x/, "") !== sig.pubkey.slice(2)) {
      checks.push(
        fail(
          "response.enclave_pubkey",
          "enclave_pubkey_mismatch",
          "enclave_pubkey is not the key recovered from the signature",
          { recovered: sig.pubkey },
        ),
      );
    } else {
      checks.push(
        pass(
          "response.enclave_pubkey",
          p.enclavePubkey === "" ? "no enclave_pubkey claimed" : "enclave_pubkey equals the recovered key",
        ),
      );
    }
  }
  const execution = bytesToHex(sha256(utf8ToBytes(p.signedText)));
  if (p.executionHash !== "" && p.executionHash.toLowerCase().replace(/^0x/, "") !== execution) {
    checks.push(
      fail(
        "response.execution_hash",
        "execution_hash_mismatch",
        "execution_hash is not sha256 of signed_text",
        { expected: execution },
      ),
    );
  } else
    checks.push(
      pass(
        "response.execution_hash",
        p.executionHash === "" ? "no execution_hash claimed" : "execution_hash is sha256 of signed_text",
      ),
    );
  if (output !== undefined) {
    let extracted: string | undefined;
    try {
      extracted = outputFromResponseBody(p.responseBody);
    } catch (e) {
      checks.push(
        fail(
          "result.output",
          "output_mismatch",
          `the signed response body has no chat completion text: ${e instanceof BaseError ? e.shortMessage : String(e)}`,
        ),
      );
    }
    if (extracted !== undefined) {
      out.extracted = extracted;
      checks.push(
        extracted === output
          ? pass("result.output", "the result's output is exactly the text of the signed response")
          : fail(
              "result.output",
              "output_mismatch",
              "the result's output differs from the text of the signed response",
              {
                outputLength: output.length,
                signedLength: extracted.length,
              },
            ),
      );
    }
  }
  return out;
}

function inList(value: string, list: string[] | undefined): boolean | undefined {
  if (!list || list.length === 0) return undefined;
  return list.map((v) => v.toLowerCase().replace(/^0x/, "")).includes(value.toLowerCase());
}

function teeChecks(
  p: NormalizedProof,
  quote: QuoteSummary,
  policy: ResolvedPolicy,
  checks: Check[],
  cache: VerificationCache | undefined,
): { binding?: ReportDataBindingName; composeHash?: string } {
  const out: { binding?: ReportDataBindingName; composeHash?: string } = {};
  // report data binding
  const quoteRd = hexToBytesStrict(quote.reportData, "quote.reportData");
  if (p.tee && p.tee.reportData.length > 0 && !equalBytes(p.tee.reportData, quoteRd)) {
    checks.push(
      fail(
        "tee.report_data",
        "report_data_mismatch",
        "the proof's claimed report_data differs from the quote's REPORTDATA",
      ),
    );
  } else {
    let enclave: string | undefined;
    try {
      enclave = toChecksumAddress(p.enclaveAddress, "proof.enclave_address");
    } catch {
      enclave = undefined;
    }
    const claimed = p.tee?.binding ?? "unspecified";
    const candidates = (claimed === "unspecified" ? policy.tee.reportDataBindings : [claimed]).filter(
      (b) => b !== "enc-pub-v1" || p.tee?.encPubkey.length === 32,
    );
    const match = enclave
      ? candidates.find(
          (b) =>
            policy.tee.reportDataBindings.includes(b) &&
            equalBytes(
              expectedReportData({ address: enclave, binding: b, encPubkey: p.tee?.encPubkey }),
              quoteRd,
            ),
        )
      : undefined;
    if (match) {
      out.binding = match;
      checks.push(
        pass("tee.report_data", `quote REPORTDATA binds the enclave address ${enclave} (${match})`, {
          binding: match,
        }),
      );
    } else {
      checks.push(
        fail(
          "tee.report_data",
          "report_data_mismatch",
          `quote REPORTDATA does not bind the enclave address in any allowed encoding (${candidates.join(", ") || "none"})`,
          {
            reportData: quote.reportData,
            claimedBinding: claimed,
          },
        ),
      );
    }
  }
  if (!quote.td) {
    checks.push(
      pass("tee.measurements", "SGX quote: TDX measurements and event log do not apply", {
        applicable: false,
      }),
    );
    return out;
  }
  const td = quote.td;
  // measurements
  const pinned: string[] = [];
  let measurementFail: Check | undefined;
  for (const [field, list] of [
    ["mrtd", policy.tee.mrtd],
    ["rtmr0", policy.tee.rtmr0],
    ["rtmr1", policy.tee.rtmr1],
    ["rtmr2", policy.tee.rtmr2],
  ] as const) {
    const ok = inList(td[field], list);
    if (ok === undefined) continue;
    pinned.push(field);
    if (!ok && !measurementFail) {
      measurementFail = fail(
        "tee.measurements",
        field === "mrtd" ? "mrtd_not_allowed" : "rtmr_not_allowed",
        `${field.toUpperCase()} ${td[field]} is not in the policy allow-list`,
        { [field]: td[field] },
      );
    }
  }
  checks.push(
    measurementFail ??
      pass(
        "tee.measurements",
        pinned.length ? `${pinned.join(", ")} match the policy` : "no measurements pinned by policy",
        { pinned, mrtd: td.mrtd },
      ),
  );
  // event log replay
  const log = p.tee?.eventLog ?? "";
  if (log === "") {
    if (policy.tee.requireEventLog)
      checks.push(
        fail("tee.event_log", "event_log_missing", "the proof has no dstack event log to replay RTMR3"),
      );
    else checks.push(pass("tee.event_log", "no event log (not required by policy)"));
    return out;
  }
  let replay = cache?._eventLogs.get(log) as ReturnType<typeof replayEventLog> | undefined;
  if (!replay) {
    replay = replayEventLog(log);
    cache?._eventLogs.set(log, replay);
  }
  if (replay.badDigests.length > 0) {
    checks.push(
      fail(
        "tee.event_log",
        "event_log_invalid",
        `runtime event digests do not match their payloads (entries ${replay.badDigests.join(", ")})`,
        { entries: replay.badDigests },
      ),
    );
    return out;
  }
  const mismatched = ([0, 1, 2, 3] as const).filter((i) => {
    const hasEvents = replay.events.some((e) => e.imr === i);
    return (i === 3 || hasEvents) && replay.rtmrs[i] !== td[`rtmr${i}`];
  });
  if (mismatched.length > 0) {
    checks.push(
      fail(
        "tee.event_log",
        "rtmr_mismatch",
        `event log replay does not reproduce RTMR${mismatched.join(", RTMR")}`,
        { replayed: replay.rtmrs },
      ),
    );
    return out;
  }
  checks.push(
    pass("tee.event_log", "event log replays to the quote's RTMRs", { events: replay.events.length }),
  );
  // compose hash / docker digest
  const composeHash = replay.composeHash;
  if (!composeHash) {
    checks.push(
      fail("tee.compose_hash", "compose_hash_mismatch", "the RTMR3 event log has no compose-hash event"),
    );
    return out;
  }
  out.composeHash = composeHash;
  const appCompose = p.tee?.appCompose ?? "";
  if (appCompose !== "" && composeHashOf(appCompose) !== composeHash) {
    checks.push(
      fail(
        "tee.compose_hash",
        "compose_hash_mismatch",
        "sha256(app_compose) is not the compose hash extended into RTMR3",
        { composeHash },
      ),
    );
    return out;
  }
  if (p.dockerDigest.toLowerCase() !== `sha256:${composeHash}`) {
    checks.push(
      fail(
        "tee.compose_hash",
        "docker_digest_mismatch",
        `docker_digest ${p.dockerDigest || "(empty)"} is not sha256:<compose hash from RTMR3>`,
        { composeHash },
      ),
    );
    return out;
  }
  const allowed = policy.dockerDigests;
  if (
    allowed &&
    allowed.length > 0 &&
    !allowed.map((d) => d.toLowerCase()).includes(p.dockerDigest.toLowerCase())
  ) {
    checks.push(
      fail(
        "tee.compose_hash",
        "docker_digest_not_allowed",
        `workload ${p.dockerDigest} is not in the policy allow-list`,
        { composeHash },
      ),
    );
    return out;
  }
  checks.push(
    pass(
      "tee.compose_hash",
      `docker_digest is the compose hash replayed from RTMR3${appCompose ? " and sha256(app_compose)" : ""}`,
      { composeHash, pinned: Boolean(allowed?.length) },
    ),
  );
  return out;
}

/**
 * Verifies a `ComputeProof` (or a whole `ComputeResult`, output + proof) offline, as named steps:
 * 1. response signature: sha256 of the exact request/response bytes, the signed text, EIP-191 signer =
 *    enclave address, enclave_pubkey, execution_hash, and (for a result) output = text of the signed response;
 * 2. TEE quote: {@link verifyQuote} at `now` with the policy's root, TCB and vendor rules;
 * 3. report data: the quote's REPORTDATA binds the enclave address (0G encodings);
 * 4. workload: MRTD / RTMR0-2 allow-lists, RTMR replay of the dstack event log, compose hash = docker_digest;
 * 5. GPU: NRAS token (ES384, caller's JWKS) with nonce = sha256(REPORTDATA);
 * 6. freshness: timestamp within `maxAgeSeconds` of `now`.
 * An invalid proof returns `{ ok: false, reason }`; only malformed input throws.
 *
 * @example
 * const report = await verifyProof(result, { now: Math.floor(Date.now() / 1000), collateral, policy });
 * if (!report.ok) console.error(report.reason, report.message);
 */
export async function verifyProof(
  input: ComputeResultInput | ComputeProofInput,
  options: VerifyProofParameters,
): Promise<VerifyProofReturnType> {
  const now = assertNow(options?.now);
  const policy = resolvePolicy(options.policy);
  const { output, proof: rawProof } = splitResult(input);
  const p = normalizeProof(rawProof);
  const checks: Check[] = [];
  const report: Omit<VerifyProofReturnType, "ok" | "checks"> = {};

  // 1. signature and content binding
  const sig = signatureChecks(p, output, checks, options.cache);
  if (sig.signer) report.signer = sig.signer;
  if (sig.extracted !== undefined) report.output = sig.extracted;

  // 2-4. TEE
  let reportData: Uint8Array | undefined;
  if (p.attestation.length === 0) {
    checks.push(
      policy.tee.requireQuote
        ? fail("quote.present", "quote_missing", "the proof carries no TEE attestation quote")
        : pass("quote.present", "no quote (not required by policy)", { applicable: false }),
    );
  } else if (options.collateral === undefined || options.collateral === null) {
    checks.push(
      fail(
        "quote.present",
        "collateral_missing",
        "a quote is present but no collateral was given (the verifier makes no network call)",
      ),
    );
  } else {
    const q = await verifyQuote(p.attestation, options.collateral, {
      now,
      policy: options.policy,
      cache: options.cache,
    });
    checks.push(...q.checks);
    if (q.tcbStatus) report.tcbStatus = q.tcbStatus;
    if (q.advisoryIds) report.advisoryIds = q.advisoryIds;
    if (q.quote) {
      report.quote = q.quote;
      if (p.tee?.teeType && p.tee.teeType.toLowerCase() !== q.quote.teeType) {
        checks.push(
          fail(
            "tee.type",
            "quote_invalid",
            `proof says tee_type ${p.tee.teeType}, the quote is ${q.quote.teeType}`,
          ),
        );
      }
      const t = teeChecks(p, q.quote, policy, checks, options.cache);
      if (t.binding) report.reportDataBinding = t.binding;
      if (t.composeHash) report.composeHash = t.composeHash;
      // GPU evidence is bound only to a quote whose signature chain verified
      if (q.checks.some((c) => c.name === "quote.signature_chain" && c.ok))
        reportData = hexToBytesStrict(q.quote.reportData, "quote.reportData");
    }
  }

  // 5. GPU
  checks.push(await verifyGpuEvidence({ gpu: p.gpu, reportData, now, policy, cache: options.cache }));

  // 6. freshness
  const ts = p.timestamp;
  if (ts <= 0n) checks.push(fail("freshness", "stale_timestamp", "the proof has no timestamp"));
  else if (ts > BigInt(now + policy.maxFutureSkewSeconds)) {
    checks.push(
      fail("freshness", "timestamp_in_future", `timestamp ${ts} is ${ts - BigInt(now)} s after now`, {
        timestamp: Number(ts),
        now,
      }),
    );
  } else if (BigInt(now) - ts > BigInt(policy.maxAgeSeconds)) {
    checks.push(
      fail(
        "freshness",
        "stale_timestamp",
        `timestamp ${ts} is ${BigInt(now) - ts} s old (max ${policy.maxAgeSeconds})`,
        { timestamp: Number(ts), now },
      ),
    );
  } else
    checks.push(
      pass("freshness", `timestamp is ${BigInt(now) - ts} s old (max ${policy.maxAgeSeconds})`, {
        timestamp: Number(ts),
        now,
      }),
    );

  const f = firstFailure(checks);
  const out: VerifyProofReturnType = { ok: f === undefined, checks, ...report };
  if (f) {
    if (f.reason) out.reason = f.reason;
    out.message = f.message;
  }
  return out;
}
