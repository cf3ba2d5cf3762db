import { create } from "@bufbuild/protobuf";
import type { ComputeProof } from "@chaoschain/zerog-core";
import { ComputeProofSchema } from "@chaoschain/zerog-core";
import type { Devnet } from "@chaoschain/zerog-devnet";
import {
  type Collateral,
  type PolicyInput,
  type VerificationCache,
  verifyProof,
} from "@chaoschain/zerog-verifier";
import type { AttestationCheck, ProofCheck } from "./zerog/backend.js";
import { providerEvidence } from "./zerog/proof.js";

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

/** The verifier's steps that concern the attestation alone (not a response or a delivery). */
const attestationStep = /^(quote|collateral|tee|gpu)\./;

/**
 * The check of a provider before a long job pays it: every attestation step of the verifier (quote to the
 * trusted root, collateral, TCB, report data binding the enclave key, measurements, workload, GPU) under
 * `policy`, run on the provider's attestation for the enclave key `signer`. The response and delivery
 * steps are not part of it; the finished proof goes through {@link policyProofCheck}.
 */
export function policyAttestationCheck(policy: PolicyInput, collateral: Collateral): AttestationCheck {
  return async (attestation, signer, cache) => {
    const evidence = providerEvidence(attestation, signer);
    const proof = create(ComputeProofSchema, {
      method: "tee-ml",
      enclaveAddress: signer,
      attestation: evidence.quote,
      dockerDigest: evidence.dockerDigest,
      tee: evidence.tee,
      ...(evidence.gpu ? { gpu: evidence.gpu } : {}),
    });
    const report = await verifyWithPolicy(proof, policy, collateral, cache);
    const failed = report.checks.find((c) => attestationStep.test(c.name) && c.status === "fail");
    return failed ? { ok: false, reason: `${failed.name}: ${failed.reason ?? "failed"}` } : { ok: true };
  };
}
