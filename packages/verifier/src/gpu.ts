import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { type Check, fail, pass, skip } from "./check.js";
import { bytesToHex } from "./internal/bytes.js";
import { sha256, sha256Hex } from "./internal/sha256.js";
import type { NormalizedProof } from "./normalize-proof.js";
import type { Policy } from "./policy.js";
import type { VerificationCache } from "./verification-cache.js";

export interface VerifyGpuEvidenceParameters {
  gpu: NormalizedProof["gpu"];
  /** The 64-byte REPORTDATA of the verified quote the GPU evidence must be bound to. */
  reportData: Uint8Array | undefined;
  now: number;
  policy: Pick<Policy, "gpu">;
  /** Reuse NRAS token signature checks (keyed by the token, the JWKS and the issuers' content). */
  cache?: VerificationCache | undefined;
}

export type VerifyGpuEvidenceReturnType = Check;

const NAME = "gpu.evidence";
const CLOCK_TOLERANCE = 60;

/** The GPU nonce binding of this project: hex(sha256(REPORTDATA)). */
export function gpuNonceFor(reportData: Uint8Array): string {
  return bytesToHex(sha256(reportData));
}

/**
 * Checks NVIDIA GPU evidence. Evidence present in a proof is verified or the proof fails: its nonce must be
 * hex(sha256(REPORTDATA)) of the verified quote, and the NRAS attestation token (JWT, ES384 only) must verify
 * with the policy's JWKS at `now`, carry `exp`, the same nonce (`eat_nonce`) and an overall result of true.
 * Only `policy.gpu.ignore` skips present evidence. The per-device evidence blobs are not verified (NRAS did).
 *
 * @example
 * const check = await verifyGpuEvidence({ gpu: proof.gpu, reportData, now, policy: { gpu: { required: true, ignore: false, jwks, issuers } } });
 */
export async function verifyGpuEvidence(
  p: VerifyGpuEvidenceParameters,
): Promise<VerifyGpuEvidenceReturnType> {
  const { gpu, policy } = p;
  if (policy.gpu.ignore)
    return skip(NAME, "ignored_by_policy", "GPU evidence is not checked (policy gpu.ignore)");
  if (!gpu || (!gpu.nonce && !gpu.nrasToken && gpu.evidenceList.length === 0)) {
    return policy.gpu.required
      ? fail(NAME, "gpu_evidence_missing", "policy requires NVIDIA GPU evidence, none is present")
      : skip(NAME, "not_required", "no GPU evidence (not required by policy)");
  }
  if (!p.reportData)
    return fail(NAME, "gpu_nonce_mismatch", "GPU evidence cannot be bound: no verified quote REPORTDATA");
  const expectedNonce = gpuNonceFor(p.reportData);
  if (gpu.nonce.toLowerCase().replace(/^0x/, "") !== expectedNonce)
    return fail(NAME, "gpu_nonce_mismatch", "GPU evidence nonce is not sha256 of the quote's REPORTDATA", {
      nonce: gpu.nonce,
      expected: expectedNonce,
    });
  if (!gpu.nrasToken)
    return fail(
      NAME,
      "gpu_evidence_unverifiable",
      "GPU evidence without an NRAS token: the device evidence cannot be verified here",
    );
  const jwks = policy.gpu.jwks;
  if (!jwks)
    return fail(
      NAME,
      "gpu_evidence_unverifiable",
      "an NRAS token is present but the policy has no JWKS to verify it",
      {
        hint: "pass policy.gpu.jwks (NVIDIA's NRAS keys), or policy.gpu.ignore to not check GPU evidence",
      },
    );
  const key = sha256Hex(JSON.stringify([gpu.nrasToken, jwks, policy.gpu.issuers]));
  let payload: Record<string, unknown>;
  const hit = p.cache?.get("token", key);
  // jose refuses nbf > now + tolerance and exp <= now - tolerance: the cached window is [notBefore, notAfter)
  if (hit && p.now >= hit.notBefore && p.now < hit.notAfter) payload = hit.payload;
  else {
    try {
      ({ payload } = await jwtVerify(gpu.nrasToken, createLocalJWKSet(jwks as unknown as JSONWebKeySet), {
        algorithms: ["ES384"],
        currentDate: new Date(p.now * 1000),
        issuer: policy.gpu.issuers,
        clockTolerance: CLOCK_TOLERANCE,
        requiredClaims: ["exp"],
      }));
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return fail(NAME, "gpu_token_invalid", `NRAS token does not verify: ${err.message ?? String(e)}`, {
        code: err.code,
      });
    }
    const num = (v: unknown, d: number) => (typeof v === "number" ? v : d);
    p.cache?.set("token", key, {
      payload,
      notBefore: Math.max(num(payload.nbf, -Infinity), num(payload.iat, -Infinity)) - CLOCK_TOLERANCE,
      notAfter: num(payload.exp, -Infinity) + CLOCK_TOLERANCE,
    });
  }
  const tokenNonce = typeof payload.eat_nonce === "string" ? payload.eat_nonce.toLowerCase() : undefined;
  if (tokenNonce !== expectedNonce)
    return fail(NAME, "gpu_nonce_mismatch", "NRAS token eat_nonce is not the evidence nonce", {
      tokenNonce,
      expected: expectedNonce,
    });
  if (payload["x-nvidia-overall-att-result"] !== true)
    return fail(NAME, "gpu_attestation_failed", "NRAS overall attestation result is not true", {
      overall: payload["x-nvidia-overall-att-result"],
    });
  return pass(NAME, "NRAS token (ES384) verifies, is bound to the quote's REPORTDATA and reports success", {
    nonce: expectedNonce,
    arch: gpu.arch,
    devices: gpu.evidenceList.length,
  });
}
