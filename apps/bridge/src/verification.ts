import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Devnet } from "@chaoschain/zerog-devnet";
import { createPcsCollateralSource, INTEL_PCS_URL, type PolicyInput } from "@chaoschain/zerog-verifier";
import type { VerificationConfig } from "./config.js";
import { createQuoteGate, type QuoteGate } from "./quote-gate.js";

/** File name of the devnet's policy, written next to the job database. */
export const DEVNET_POLICY_FILE = "devnet-policy.json";

/** How the bridge verifies, as resolved at start (for the log and the demo). */
export interface BridgeVerification {
  gate: QuoteGate;
  policy: PolicyInput;
  /** Where the policy came from: "--policy <file>", "the devnet's policy", "the default policy". */
  policySource: string;
  /** The PCS / PCCS collateral is fetched from. */
  pccsUrl: string;
}

/**
 * The policy the bridge checks quotes and proofs under: `--policy`, else the devnet's own, else the
 * verifier's defaults (Intel's root, TDX, UpToDate). GPU evidence is checked only under a policy with a
 * `gpu` section: it needs NVIDIA's NRAS keys, which the defaults do not have.
 */
export function bridgePolicy(config: VerificationConfig, devnet: Devnet | undefined): PolicyInput {
  const policy = config.policy ?? devnet?.policy ?? {};
  return policy.gpu === undefined ? { ...policy, gpu: { ignore: true } } : policy;
}

/** The bridge's quote gate: collateral from `--pccs-url`, the devnet's PCCS, or Intel's PCS. */
export function bridgeVerification(
  config: VerificationConfig,
  devnet: Devnet | undefined,
): BridgeVerification {
  const pccsUrl = config.pccsUrl ?? devnet?.pccs?.url ?? INTEL_PCS_URL;
  const policy = bridgePolicy(config, devnet);
  return {
    gate: createQuoteGate({
      source: createPcsCollateralSource({ url: pccsUrl }),
      policy,
      skipQuote: config.skipQuote,
    }),
    policy,
    policySource: config.policyFile
      ? `--policy ${config.policyFile}`
      : devnet?.policy
        ? "the devnet's policy"
        : "the default policy (Intel's root CA, TDX, TCB UpToDate)",
    pccsUrl,
  };
}

/**
 * Writes the devnet's verifier policy (its synthetic test root, measurements, workloads, NRAS key) as
 * `devnet-policy.json` next to the job database, so its results can be verified offline; returns the path.
 */
export function writeDevnetPolicy(dbPath: string, devnet: Devnet): string | undefined {
  if (!devnet.policy) return undefined;
  const path = join(dirname(dbPath), DEVNET_POLICY_FILE);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(devnet.policy, null, 2)}\n`);
  return path;
}
