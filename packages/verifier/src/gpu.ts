import { sha256 } from "@noble/hashes/sha2.js";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { bytesToHex } from "./internal/bytes.js";
import type { NormalizedProof } from "./normalize-proof.js";
import type { Policy } from "./policy.js";
import { type Check, fail, pass } from "./reasons.js";
import type { VerificationCache } from "./verification-cache.js";

export interface VerifyGpuEvidenceParameters {
  gpu: NormalizedProof["gpu"];
  /** The quote's 64-byte REPORTDATA the GPU evidence must be bound to. */
  reportData: Uint8Array | undefined;
  now: number;
  policy: Pick<Policy, "gpu">;
  /** Reuse NRAS token signature checks (the token belongs to the provider's attestation, not to one request). */
  cache?: VerificationCache | undefined;
}

export type VerifyGpuEvidenceReturnType = Check;

const NAME = "gpu.evidence";
const jwksCache = new WeakMap<object, ReturnType<typeof createLocalJWKSet>>();
const jwksKeys = new WeakMap<object, string>();
const CLOCK_TOLERANCE = 60;

/** The GPU nonce binding of this project: hex(sha256(REPORTDATA)). */
export function gpuNonceFor(reportData: Uint8Array): string {
  return bytesToHex(sha256(reportData));
}

/**
 * Checks NVIDIA GPU evidence: the nonce must be hex(sha256(REPORTDATA)) of the same quote, and the NRAS
 * attestation token (JWT, ES384 only) must verify with the caller's JWKS at `now`, carry the same nonce
 * (`eat_nonce`) and an overall result of true. The per-device evidence blobs are not verified (NRAS did).
 */
export async function verifyGpuEvidence(
  p: VerifyGpuEvidenceParameters,
): Promise<VerifyGpuEvidenceReturnType> {
  const { gpu, policy } = p;
  const required = policy.gpu.required;
  if (!gpu || (!gpu.nonce && !gpu.nrasToken && gpu.evidenceList.length === 0)) {
    return required
      ? fail(NAME, "gpu_evidence_missing", "policy requires NVIDIA GPU evidence, none is present")
      : pass(NAME, "no GPU evidence present (not required by policy)", { present: false });
  }
  if (!p.reportData)
    return fail(NAME, "gpu_nonce_mismatch", "GPU evidence cannot be bound: no verified quote REPORTDATA");
  const expectedNonce = gpuNonceFor(p.reportData);
  if (gpu.nonce.toLowerCase().replace(/^0x/, "") !== expectedNonce) {
    return fail(NAME, "gpu_nonce_mismatch", "GPU evidence nonce is not sha256 of the quote's REPORTDATA", {
      nonce: gpu.nonce,
      expected: expectedNonce,
    });
  }
  if (!gpu.nrasToken) {
    return required
      ? fail(NAME, "gpu_evidence_missing", "policy requires an NRAS attestation token, none is present")
      : pass(NAME, "GPU nonce is bound to the quote; no NRAS token, device evidence not verified", {
          verified: false,
          nonce: expectedNonce,
        });
  }
  const jwks = policy.gpu.jwks;
  if (!jwks) {
    return required
      ? fail(NAME, "gpu_token_invalid", "an NRAS token is present but the policy has no JWKS to verify it")
      : pass(NAME, "GPU nonce is bound to the quote; no JWKS in policy, NRAS token not verified", {
          verified: false,
          nonce: expectedNonce,
        });
  }
  let keySet = jwksCache.get(jwks);
  if (!keySet) {
    keySet = createLocalJWKSet(jwks as unknown as JSONWebKeySet);
    jwksCache.set(jwks, keySet);
  }
  let jwksKey = jwksKeys.get(jwks);
  if (!jwksKey) {
    jwksKey = bytesToHex(sha256(new TextEncoder().encode(JSON.stringify(jwks))));
    jwksKeys.set(jwks, jwksKey);
  }
  const cacheKey = `${gpu.nrasToken}|${jwksKey}|${policy.gpu.issuers.join(",")}`;
  const hit = p.cache?._tokens.get(cacheKey);
  let payload: Record<string, unknown>;
  if (hit && p.now >= hit.notBefore && p.now <= hit.notAfter) {
    payload = hit.payload;
  } else {
    try {
      ({ payload } = await jwtVerify(gpu.nrasToken, keySet, {
        algorithms: ["ES384"],
        currentDate: new Date(p.now * 1000),
        issuer: policy.gpu.issuers,
        clockTolerance: CLOCK_TOLERANCE,
      }));
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return fail(NAME, "gpu_token_invalid", `NRAS token does not verify: ${err.message ?? String(e)}`, {
        code: err.code,
      });
    }
    const num = (v: unknown, d: number) => (typeof v === "number" ? v : d);
    p.cache?._tokens.set(cacheKey, {
      payload,
      notBefore: Math.max(num(payload.nbf, -Infinity), num(payload.iat, -Infinity)) - CLOCK_TOLERANCE,
      notAfter: num(payload.exp, Infinity) + CLOCK_TOLERANCE,
    });
  }
  const tokenNonce = typeof payload.eat_nonce === "string" ? payload.eat_nonce.toLowerCase() : undefined;
  if (tokenNonce !== expectedNonce) {
    return fail(NAME, "gpu_nonce_mismatch", "NRAS token eat_nonce is not the evidence nonce", {
      tokenNonce,
      expected: expectedNonce,
    });
  }
  if (payload["x-nvidia-overall-att-result"] !== true) {
    return fail(NAME, "gpu_attestation_failed", "NRAS overall attestation result is not true", {
      overall: payload["x-nvidia-overall-att-result"],
    });
  }
  return pass(NAME, "NRAS token (ES384) verifies, is bound to the quote's REPORTDATA and reports success", {
    verified: true,
    nonce: expectedNonce,
    arch: gpu.arch,
    devices: gpu.evidenceList.length,
  });
}
