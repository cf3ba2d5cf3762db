import { blocked, type Check, type CheckName } from "./check.js";
import type { Collateral, CollateralSource } from "./collateral.js";
import { InputTooLargeError, InvalidInputError } from "./errors/input.js";
import { type ReplayEventLogReturnType, replayEventLog } from "./event-log.js";
import { sha256Hex } from "./internal/sha256.js";
import {
  type ComputeProofInput,
  type ComputeResultInput,
  type NormalizedProof,
  normalizeProof,
  splitResult,
} from "./normalize-proof.js";
import type { PolicyInput } from "./policy.js";
import type { CollateralOrigin, QuoteContext } from "./quote-context.js";
import { readResponseBody, type SignedResponse } from "./read-response-body.js";
import { assertNow, type ResolvedPolicy, resolvePolicy } from "./resolve-policy.js";
import { memo, type VerificationCache } from "./verification-cache.js";
import { quoteContextOf } from "./verify-quote.js";
import {
  type VerifyResponseSignatureReturnType,
  verifyHashedResponseSignature,
} from "./verify-response-signature.js";

export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/** Everything the proof steps read, computed once per call (the costly parts cached by content). */
export interface ProofContext {
  now: number;
  policy: ResolvedPolicy;
  cache: VerificationCache | undefined;
  /** The output a `ComputeResult` claims; undefined for a bare proof. */
  output: string | undefined;
  /** The proof, or why it is malformed. */
  proof: Outcome<NormalizedProof> & { reason?: "proof_malformed" | "input_too_large"; field?: string };
  /** hex SHA-256 of the carried bodies (when both are present). */
  hashes?: { requestHash: string; responseHash: string };
  /** The enclave signature over the bodies' hashes (when both bodies are present). */
  signature?: Outcome<VerifyResponseSignatureReturnType>;
  /** The signed response body as read for its output and `created`. */
  response?: Outcome<SignedResponse>;
  /** The quote's context, when the proof has a quote and collateral is available. */
  quote?: QuoteContext;
  /** Where the collateral came from; undefined when there is none. */
  collateralOrigin?: CollateralOrigin;
  /** The dstack event log replay (when the proof has one). */
  replay?: Outcome<ReplayEventLogReturnType>;
}

export interface ProofContextParameters {
  now: number;
  policy?: PolicyInput | undefined;
  collateral?: Collateral | string | CollateralSource | undefined;
  cache?: VerificationCache | undefined;
}

function attempt<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof InvalidInputError) return { ok: false, message: e.shortMessage };
    throw e;
  }
}

function normalized(raw: ComputeProofInput): ProofContext["proof"] {
  try {
    return { ok: true, value: normalizeProof(raw) };
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    const reason = e instanceof InputTooLargeError ? "input_too_large" : "proof_malformed";
    return { ok: false, message: e.shortMessage, reason, field: e.field };
  }
}

/**
 * Builds the facts of a proof. Throws only for caller misuse: `now`, the policy, an input that is not an
 * object or is ambiguous (see `splitResult`), malformed caller-given collateral, a failing CollateralSource. A
 * result whose `proof` is not an object or whose `output` is not text is a malformed proof.
 */
export async function proofContext(
  input: ComputeResultInput | ComputeProofInput,
  o: ProofContextParameters,
): Promise<ProofContext> {
  const now = assertNow(o?.now);
  const policy = resolvePolicy(o.policy);
  let split: ReturnType<typeof splitResult>;
  try {
    split = splitResult(input);
  } catch (e) {
    // an ambiguous input is the caller's; a result whose proof or output has the wrong type is the sender's
    if (!(e instanceof InvalidInputError) || (e.field !== "result.proof" && e.field !== "result.output"))
      throw e;
    const proof = {
      ok: false as const,
      message: e.shortMessage,
      reason: "proof_malformed" as const,
      field: e.field,
    };
    return { now, policy, cache: o.cache, output: undefined, proof };
  }
  const { output, proof: raw } = split;
  const ctx: ProofContext = { now, policy, cache: o.cache, output, proof: normalized(raw) };
  if (!ctx.proof.ok) return ctx;
  const p = ctx.proof.value;
  if (p.requestBody.length > 0 && p.responseBody.length > 0) {
    const hashes = { requestHash: sha256Hex(p.requestBody), responseHash: sha256Hex(p.responseBody) };
    ctx.hashes = hashes;
    ctx.signature = attempt(() =>
      verifyHashedResponseSignature(
        {
          signedText: p.signedText,
          signature: p.signature,
          expectedAddress: p.enclaveAddress,
          cache: o.cache,
        },
        hashes,
      ),
    );
    ctx.response = attempt(() => readResponseBody(p.responseBody));
  }
  const collateral = o.collateral ?? p.tee?.collateral;
  if (p.attestation.length > 0 && collateral !== undefined && collateral !== null) {
    ctx.collateralOrigin = o.collateral !== undefined && o.collateral !== null ? "given" : "embedded";
    ctx.quote = await quoteContextOf(p.attestation, collateral, ctx.collateralOrigin, now, policy, o.cache);
  }
  const log = p.tee?.eventLog ?? "";
  if (log !== "") {
    const key = sha256Hex(log);
    ctx.replay = attempt(() => memo(o.cache, "eventLog", key, () => replayEventLog(log)));
  }
  return ctx;
}

/** The normalised proof, when it is well-formed. */
export function proofOf(ctx: ProofContext): NormalizedProof | undefined {
  return ctx.proof.ok ? ctx.proof.value : undefined;
}

/**
 * The response body as read, once the enclave's signature over it verified (else undefined: its output and
 * `created` are anyone's text). A fine-tuning proof has none: its bodies, if any, are not its subject.
 */
export function signedResponse(ctx: ProofContext): Outcome<SignedResponse> | undefined {
  if (proofOf(ctx)?.fineTuning) return undefined;
  return ctx.signature?.ok && ctx.signature.value.ok ? ctx.response : undefined;
}

/** The check of a step that cannot run because the proof is malformed. */
export function blockedByFormat(name: CheckName): Check {
  return blocked(name, "proof.format");
}
