import { createRequire } from "node:module";
import { fromBinary } from "@bufbuild/protobuf";
import { ComputeProofSchema } from "@chaoschain/zerog-core";
import { createTeeSimAttestation } from "@chaoschain/zerog-devnet";
import { verifyProof } from "@chaoschain/zerog-verifier";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.js";

// As a ChaosChain agent loads them: @chaoschain/sdk 0.1.3's ESM build fails to import ("Dynamic
// require of "util" is not supported"), so the SDK is require()d, and so is the adapter
// (require(esm), Node >= 20.19).
const require = createRequire(import.meta.url);
const { ChaosChainSDK } = require("@chaoschain/sdk") as { ChaosChainSDK: new (config: object) => Sdk };
const { ProofVerificationError, ZeroGComputeAdapter } =
  require("@chaoschain/zerog-adapter") as typeof import("@chaoschain/zerog-adapter");

/** The parts of the SDK (no .d.ts shipped) this test touches. */
interface Sdk {
  processIntegrity: { computeProvider: unknown };
  registerFunction(fn: (inputs: Record<string, unknown>) => Promise<unknown>): void;
  executeWithIntegrityProof(
    name: string,
    args: Record<string, unknown>,
  ): Promise<{ result: unknown; proof: IntegrityProof }>;
}
interface IntegrityProof {
  function_name: string;
  tee_job_id?: string;
  tee_execution_hash?: string;
  tee_provider?: string;
  tee_attestation?: {
    job_id: string;
    provider: string;
    execution_hash: string;
    verification_method: string;
    model: string;
    attestation_data: { job_id: string; execution_hash: string; quote: string; proof: unknown };
    proof: string;
    metadata: { job_id: string; output: string; client_verification: string };
  };
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

function agent(computeProvider: unknown): Sdk {
  const sdk = new ChaosChainSDK({
    agentName: "MyAgent",
    agentDomain: "example.com",
    agentRole: "server",
    network: "base-sepolia",
    // Nothing here touches a chain; any RPC the SDK might open stays on this machine.
    rpcUrl: "http://127.0.0.1:9",
    privateKey: `0x${"11".repeat(32)}`,
    enablePayments: false,
    enableAP2: false,
    enableStorage: false,
    computeProvider, // the original README's compute_provider=zerog
  });
  // @chaoschain/sdk 0.1.3 builds ProcessIntegrity before it assigns computeProvider (and passes it
  // in the wrong argument), so process integrity never sees the provider: wire it after construction.
  sdk.processIntegrity.computeProvider = computeProvider;
  return sdk;
}

async function analyze(inputs: Record<string, unknown>) {
  return { verdict: `looked at ${String(inputs.ticker)}` };
}

describe("@chaoschain/sdk 0.1.3 with ZeroGComputeAdapter as its compute provider", () => {
  it("drives inference and getModels through the provider the SDK holds", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: stack.grpcUrl, timeoutSeconds: 60 });
    const sdk = agent(zerog);
    const provider = (sdk as unknown as { computeProvider: InstanceType<typeof ZeroGComputeAdapter> })
      .computeProvider;
    expect(provider).toBe(zerog);
    expect(await provider.getModels()).toEqual(["gpt-oss-120b", "llama-3-8b"]);
    const result = await provider.inference("llama-3-8b", "What is blockchain?");
    expect(result.success).toBe(true);
    expect(result.output).toContain("heard: What is blockchain?");
    zerog.close();
  });

  it("executeWithIntegrityProof ends with a TEE attestation carrying the job id and execution hash, verifiable offline", async () => {
    const zerog = new ZeroGComputeAdapter({ grpcUrl: stack.grpcUrl, timeoutSeconds: 60 });
    const sdk = agent(zerog);
    sdk.registerFunction(analyze);
    const { result, proof } = await sdk.executeWithIntegrityProof("analyze", { ticker: "0G" });
    zerog.close();
    expect(result).toEqual({ verdict: "looked at 0G" });
    const tee = proof.tee_attestation;
    expect(tee).toBeDefined();
    if (!tee) return;
    expect(tee).toMatchObject({
      job_id: expect.stringMatching(/^job_/),
      provider: "0g-compute",
      execution_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      verification_method: "tee-ml",
      model: "gpt-oss-120b",
    });
    expect(proof.tee_job_id).toBe(tee.job_id);
    expect(proof.tee_execution_hash).toBe(tee.execution_hash);
    expect(tee.attestation_data).toMatchObject({ job_id: tee.job_id, execution_hash: tee.execution_hash });
    expect(tee.attestation_data.quote.length).toBeGreaterThan(1000);
    expect(tee.metadata.output).toContain('Execute function: analyze with inputs: {"ticker":"0G"}');

    expect(tee.metadata.client_verification).toBe("verified");
    // What the SDK keeps verifies with our verifier, trusting neither bridge nor provider: nothing but
    // the proof (its embedded collateral) and the devnet's policy.
    const options = { now: Math.floor(Date.now() / 1000), policy: stack.policy };
    const kept = fromBinary(ComputeProofSchema, Buffer.from(tee.proof, "hex"));
    expect(kept.executionHash).toBe(tee.execution_hash);
    const report = await verifyProof({ output: tee.metadata.output, proof: kept }, options);
    expect(report.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(report.ok).toBe(true);
    const fromJson = await verifyProof(
      { output: tee.metadata.output, proof: tee.attestation_data.proof as never },
      options,
    );
    expect(fromJson.ok).toBe(true);
    const forged = await verifyProof({ output: `${tee.metadata.output}!`, proof: kept }, options);
    expect(forged.ok).toBe(false);
  });

  it("when our verification fails, result() throws and the SDK keeps no TEE attestation", async () => {
    // Verify against another root than the devnet's: every quote fails its chain check.
    const stranger = createTeeSimAttestation({ seed: "not-the-devnet" }).trust;
    const zerog = new ZeroGComputeAdapter({
      grpcUrl: stack.grpcUrl,
      timeoutSeconds: 60,
      verify: { policy: { ...stack.policy, tee: { rootCaPem: stranger.rootCaPem } } },
    });
    const jobId = await zerog.submit({ function: "analyze", inputs: {}, model: "gpt-oss-120b" });
    const rejected = await zerog.result(jobId).catch((e: unknown) => e);
    expect(rejected).toBeInstanceOf(ProofVerificationError);
    expect(rejected).toMatchObject({ code: "job_failed", failureReason: "proof_invalid", jobId });
    expect((rejected as InstanceType<typeof ProofVerificationError>).report.reason).toBe("untrusted_root");
    await expect(zerog.attestation(jobId)).rejects.toMatchObject({
      code: "job_failed",
      failureReason: "proof_invalid",
    });

    const sdk = agent(zerog);
    sdk.registerFunction(analyze);
    const { result, proof } = await sdk.executeWithIntegrityProof("analyze", { ticker: "0G" });
    zerog.close();
    expect(result).toEqual({ verdict: "looked at 0G" });
    expect(proof.tee_attestation).toBeUndefined();
    expect(proof.tee_job_id).toBeUndefined();
  });
});
