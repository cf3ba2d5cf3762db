import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * `@chaoschain/sdk` 0.1.3 ships no `.d.ts`, but its source map carries its TypeScript sources: the
 * adapter is type-checked here against the SDK's own `ComputeProvider` (types.ts, what
 * `ChaosChainSDKConfig.computeProvider` takes) and against what its process integrity duck-types
 * (ProcessIntegrity.ts).
 */
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const work = join(packageDir, "test-results", "sdk-types");

function extractSdkSources(): void {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@chaoschain/sdk");
  const map = JSON.parse(readFileSync(`${main}.map`, "utf8")) as {
    sources: string[];
    sourcesContent: string[];
  };
  map.sources.forEach((source, i) => {
    if (!source.startsWith("../src/")) return;
    const out = join(work, "sdk", source.slice("../src/".length));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, map.sourcesContent[i] ?? "");
  });
}

function check(code: string): string[] {
  const file = join(work, "check.ts");
  writeFileSync(file, code);
  const program = ts.createProgram([file], {
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ["node"],
    typeRoots: [join(packageDir, "node_modules", "@types")],
  });
  // Only this file's diagnostics: the SDK's own sources do not type-check cleanly (it is built with tsup).
  return ts
    .getPreEmitDiagnostics(program, program.getSourceFile(file))
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

const header = `
import type { ChaosChainSDKConfig, ComputeProvider } from "./sdk/types.js";
import type { ComputeProvider as IntegrityProvider } from "./sdk/ProcessIntegrity.js";
import { ZeroGComputeAdapter } from "../../src/index.js";
declare const zerog: ZeroGComputeAdapter;
/** ProcessIntegrity types proof as a Buffer, and only calls proof.toString("hex") on it. */
type Reads = Omit<IntegrityProvider, "result"> & {
  result(jobId: string): Promise<
    Omit<Awaited<ReturnType<IntegrityProvider["result"]>>, "proof"> & { proof?: { toString(encoding: "hex"): string } }
  >;
};
`;

// A whole TypeScript program per check: seconds, many more on a loaded machine (no speed is asserted here).
describe("ZeroGComputeAdapter against @chaoschain/sdk 0.1.3's own types", { timeout: 60_000 }, () => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  extractSdkSources();

  it("is a ComputeProvider, a ChaosChainSDKConfig.computeProvider, and what process integrity reads", () => {
    expect(
      check(`${header}
export const config: ChaosChainSDKConfig = {
  agentName: "MyAgent", agentDomain: "example.com", agentRole: "server", network: "base-sepolia",
  computeProvider: zerog,
};
export const provider: ComputeProvider = zerog;
export const integrity: Reads = zerog;
`),
    ).toEqual([]);
  });

  it("the check has teeth: an object without inference, or with another result shape, is refused", () => {
    const errors = check(`${header}
export const provider: ComputeProvider = { getModels: zerog.getModels };
export const integrity: Reads = { ...zerog, submit: zerog.submit, status: zerog.status, attestation: zerog.attestation,
  result: async () => ({ success: true, execution_hash: "", verification_method: "tee-ml" }) };
`);
    expect(errors.join("\n")).toContain("inference");
    expect(errors.join("\n")).toContain("verification_method");
  });
});
