import type { Writable } from "node:stream";
import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
import type { Devnet } from "@chaoschain/zerog-devnet";
import { verifyDevnetProof } from "./verification.js";

/** The task of the original ChaosChain adapter's README, as is. */
export const demoTask = {
  task_type: "inference",
  model: "llama-3-8b",
  inputs: { prompt: "What is blockchain?" },
  verification: "tee-ml",
};

/**
 * Runs one job through the adapter, as a ChaosChain agent would, and prints its id, output and the
 * verdict of an offline verification of its proof. Returns whether the proof verified.
 */
export async function runDemo(options: {
  grpcUrl: string;
  caFile?: string | undefined;
  apiKey: string | undefined;
  trust: Devnet["trust"];
  out: Writable;
}): Promise<boolean> {
  const print = (line = "") => options.out.write(`${line}\n`);
  const zerog = new ZeroGComputeAdapter({
    grpcUrl: options.grpcUrl,
    caFile: options.caFile,
    apiKey: options.apiKey,
    timeoutSeconds: 120,
  });
  try {
    print();
    print(`demo: submitting ${JSON.stringify(demoTask)}`);
    const jobId = await zerog.submit(demoTask);
    print(`job id:   ${jobId}`);
    const result = await zerog.result(jobId, { wait: true, timeoutS: 120 });
    if (!result.success) throw new Error(result.error); // only when the adapter verifies, which it does not here
    const { output, proof, usage } = result;
    print(`provider: ${proof.providerAddress} (enclave ${proof.enclaveAddress})`);
    print(`output:   ${output}`);
    print(
      `usage:    ${usage.promptTokens} prompt + ${usage.completionTokens} completion tokens, fee ${usage.feeNeuron} neuron`,
    );
    print(
      `proof:    ${proof.method}, signed text ${proof.signedText.slice(0, 24)}…, workload ${proof.dockerDigest.slice(0, 23)}…`,
    );
    if (!options.trust) {
      print("verification: skipped (no devnet trust anchors; verify with zerog-verify and Intel collateral)");
      return true;
    }
    const report = await verifyDevnetProof(proof, options.trust);
    const mark = { pass: "✓", skipped: "-", fail: "✗" } as const;
    for (const check of report.checks) print(`  ${mark[check.status]} ${check.name}: ${check.message}`);
    print(report.ok ? "verification: verified" : "verification: NOT VERIFIED");
    return report.ok;
  } finally {
    zerog.close();
  }
}
