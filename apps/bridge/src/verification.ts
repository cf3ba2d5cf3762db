import type { ComputeProof } from "@chaoschain/zerog-core";
import type { Devnet } from "@chaoschain/zerog-devnet";
import {
  type Collateral,
  type PolicyInput,
  type VerificationCache,
  verifyProof,
} from "@chaoschain/zerog-verifier";
import type { ProofCheck } from "./zerog/backend.js";

type DevnetTrust = NonNullable<Devnet["trust"]>;

/**
 * The verifier policy for proofs of the embedded devnet: its test root CA stands in for Intel's,
 * and its NRAS stand-in key for NVIDIA's. Never use it for a real network.
 */
export function devnetPolicy(trust: DevnetTrust): PolicyInput {
  return { tee: { rootCaPem: trust.rootCaPem }, gpu: { required: true, jwks: trust.jwks } };
}

/** Full offline verification of a proof at the current time: the report with every check. */
export function verifyWithPolicy(
  proof: ComputeProof,
  policy: PolicyInput,
  collateral: Collateral,
  cache?: VerificationCache,
) {
  return verifyProof(proof, {
    policy,
    collateral,
    now: Math.floor(Date.now() / 1000),
    ...(cache ? { cache } : {}),
  });
}

/** Full offline verification of a devnet proof, for the demo. */
export function verifyDevnetProof(proof: ComputeProof, trust: DevnetTrust) {
  return verifyWithPolicy(proof, devnetPolicy(trust), trust.collateral);
}

/**
 * The backend's per-job check: the whole proof (quote, report data, workload, GPU, freshness)
 * must verify under `policy` before a result is kept.
 */
export function policyProofCheck(policy: PolicyInput, collateral: Collateral): ProofCheck {
  return async (proof, cache) => {
    const report = await verifyWithPolicy(proof, policy, collateral, cache);
    if (report.ok) return { ok: true };
    const failed = report.checks.find((c) => c.status === "fail");
    return { ok: false, reason: failed ? `${failed.name}: ${failed.reason ?? "failed"}` : "rejected" };
  };
}
