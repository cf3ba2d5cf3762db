import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, relative } from "node:path";
import type { Writable } from "node:stream";
import { toJson } from "@bufbuild/protobuf";
import { ProofVerificationError, ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
import { ComputeResultSchema } from "@chaoschain/zerog-core";
import type { PolicyInput, VerifyProofReturnType } from "@chaoschain/zerog-verifier";

/** The task of the original ChaosChain adapter's README, as is. */
export const demoTask = {
  task_type: "inference",
  model: "llama-3-8b",
  inputs: { prompt: "What is blockchain?" },
  verification: "tee-ml",
};

export interface RunDemoParameters {
  grpcUrl: string;
  /** CA certificate file (PEM) for a bridge listening with TLS. */
  caFile?: string | undefined;
  apiKey: string | undefined;
  /** The policy the result is verified under (the bridge's). */
  policy: PolicyInput;
  /** The file holding `policy` (the devnet's, or --policy), for the printed command; none: the default. */
  policyPath: string | undefined;
  /** Set on the devnet: its root CA stands in for Intel's, and the output says so. */
  devnetRootSha256: string | undefined;
  /** Where the demo result (proto3 JSON, as GetResult returns it) is written. */
  resultPath: string;
  /** Paths are printed relative to this directory when they are inside it. */
  cwd: string;
  out: Writable;
}

function printable(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

/**
 * Runs one job through the adapter, as a ChaosChain agent would (its `result()` verifies the proof
 * under `policy`), prints its id, output and every check, writes the result to `resultPath` and prints
 * the command that verifies it again offline. Returns whether the proof verified.
 */
export async function runDemo(p: RunDemoParameters): Promise<boolean> {
  const print = (line = "") => p.out.write(`${line}\n`);
  const zerog = new ZeroGComputeAdapter({
    grpcUrl: p.grpcUrl,
    caFile: p.caFile,
    apiKey: p.apiKey,
    timeoutSeconds: 120,
    verify: { policy: p.policy },
  });
  const printChecks = (report: VerifyProofReturnType) => {
    const mark = { pass: "✓", skipped: "-", fail: "✗" } as const;
    for (const check of report.checks) print(`  ${mark[check.status]} ${check.name}: ${check.message}`);
  };
  try {
    print();
    print(`demo: submitting ${JSON.stringify(demoTask)}`);
    const jobId = await zerog.submit(demoTask);
    print(`job id:   ${jobId}`);
    let result: Awaited<ReturnType<ZeroGComputeAdapter["result"]>>;
    try {
      result = await zerog.result(jobId, { wait: true, timeoutS: 120 });
    } catch (err) {
      if (!(err instanceof ProofVerificationError)) throw err;
      printChecks(err.report);
      print(`verification: NOT VERIFIED (${err.report.reason}: ${err.report.message})`);
      return false;
    }
    const { output, proof, usage, verification } = result;
    print(`provider: ${proof.providerAddress} (enclave ${proof.enclaveAddress})`);
    print(`output:   ${output}`);
    print(
      `usage:    ${usage.promptTokens} prompt + ${usage.completionTokens} completion tokens, fee ${usage.feeNeuron} neuron`,
    );
    print(
      `proof:    ${proof.method}, signed text ${proof.signedText.slice(0, 24)}…, workload ${proof.dockerDigest.slice(0, 23)}…`,
    );
    const collateral = proof.tee?.collateral;
    if (collateral?.sourceUrl)
      print(`collateral: embedded in the proof, fetched from ${collateral.sourceUrl}`);
    if (verification) printChecks(verification);
    print(
      result.taskCheck === "verified"
        ? "task:     the request the enclave signed is the one this task maps to"
        : "task:     not compared with the request the enclave signed",
    );
    print("verification: verified");
    if (p.devnetRootSha256)
      print(
        `trust anchor: the devnet's synthetic TEST root CA (sha256 ${p.devnetRootSha256.slice(0, 16)}…), NOT Intel's SGX Root CA: this proof verifies only under the devnet's policy`,
      );
    mkdirSync(dirname(p.resultPath), { recursive: true });
    writeFileSync(p.resultPath, `${JSON.stringify(toJson(ComputeResultSchema, result.raw), null, 2)}\n`);
    const policyFlag = p.policyPath ? ` --policy ${printable(p.policyPath, p.cwd)}` : "";
    print(`demo result written to ${printable(p.resultPath, p.cwd)}; verify it again offline with:`);
    print(`  npx zerog-verify proof ${printable(p.resultPath, p.cwd)}${policyFlag}`);
    return true;
  } finally {
    zerog.close();
  }
}
