import type { ComputeProof } from "@chaoschain/zerog-core";
import type { Devnet } from "@chaoschain/zerog-devnet";
import { type PolicyInput, verifyProof } from "@chaoschain/zerog-verifier";
import type { ProofCheck } from "./zerog/backend.js";

type DevnetTrust = NonNullable<Devnet["trust"]>;

/**
 * The verifier policy for proofs of the embedded devnet: its test root CA stands in for Intel's,
 * and its NRAS stand-in key for NVIDIA's. Never use it for a real network.
 */
export function devnetPolicy(trust: DevnetTrust): PolicyInput {
  return { tee: { rootCaPem: trust.rootCaPem }, gpu: { required: true, jwks: trust.jwks } };
}

/** Full offline verification of a proof, for the demo and for users: report with every check. */
export async function verifyDevnetProof(proof: ComputeProof, trust: DevnetTrust) {
  return verifyProof(proof, {
    policy: devnetPolicy(trust),
    collateral: trust.collateral,
    now: Math.floor(Date.now() / 1000),
  });
}

/** The backend's per-job check on the devnet: the whole proof must verify before the result is kept. */
export function devnetProofCheck(trust: DevnetTrust): ProofCheck {
  return async (proof) => {
    const report = await verifyDevnetProof(proof, trust);
    if (report.ok) return { ok: true };
    const failed = report.checks.find((c) => !c.ok && !c.skipped) ?? report.checks.find((c) => !c.ok);
    return { ok: false, reason: failed ? `${failed.name}: ${failed.reason ?? "failed"}` : "rejected" };
  };
}
