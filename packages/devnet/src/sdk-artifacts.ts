import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { InterfaceAbi } from "ethers";
import { DevnetError } from "./errors.js";

const require = createRequire(import.meta.url);

/** ABI + creation bytecode of one contract. */
export type ContractArtifact = { abi: InterfaceAbi; bytecode: string };

/** The three 0G serving contracts exactly as shipped (with bytecode) in the SDK's typechain factories. */
export type ZeroGArtifacts = {
  ledger: ContractArtifact;
  inference: ContractArtifact;
  fineTuning: ContractArtifact;
  erc1967Proxy: ContractArtifact;
};

const SDK_PACKAGE = "@0gfoundation/0g-compute-ts-sdk";

/** Paths of the typechain factories relative to the SDK's `lib.commonjs` directory. */
export const SDK_FACTORY_PATHS = {
  ledger: "ledger/contract/typechain/factories/LedgerManager__factory.js",
  inference: "inference/contract/typechain/factories/InferenceServing__factory.js",
  fineTuning: "fine-tuning/contract/typechain/factories/FineTuningServing__factory.js",
} as const;

let cached: ZeroGArtifacts | undefined;

function loadFactory(libDir: string, relPath: string, exportName: string): ContractArtifact {
  const file = join(libDir, relPath);
  let mod: Record<string, { abi?: InterfaceAbi; bytecode?: string } | undefined>;
  try {
    mod = require(file);
  } catch (cause) {
    throw new DevnetError(`Cannot load ${exportName} from the 0G SDK`, {
      code: "SDK_ARTIFACT_NOT_FOUND",
      details: file,
      metaMessages: [`Is ${SDK_PACKAGE}@0.9.0 installed?`],
      cause,
    });
  }
  const factory = mod[exportName];
  if (!factory?.abi || !factory.bytecode) {
    throw new DevnetError(`${exportName} in the 0G SDK has no abi/bytecode`, {
      code: "SDK_ARTIFACT_NOT_FOUND",
      details: file,
    });
  }
  // Only the static data is taken; contracts are built with this package's own ethers instance.
  return { abi: factory.abi, bytecode: factory.bytecode };
}

/**
 * Loads the real contract artifacts: LedgerManager, InferenceServing and FineTuningServing from the
 * SDK's typechain factories (not exported by the SDK, so loaded by absolute path) and ERC1967Proxy
 * from `@openzeppelin/contracts@4.9.6`.
 */
export function loadZeroGArtifacts(): ZeroGArtifacts {
  if (cached) return cached;
  const libDir = dirname(require.resolve(SDK_PACKAGE));
  const proxyJson = require("@openzeppelin/contracts/build/contracts/ERC1967Proxy.json") as {
    abi: InterfaceAbi;
    bytecode: string;
  };
  cached = {
    ledger: loadFactory(libDir, SDK_FACTORY_PATHS.ledger, "LedgerManager__factory"),
    inference: loadFactory(libDir, SDK_FACTORY_PATHS.inference, "InferenceServing__factory"),
    fineTuning: loadFactory(libDir, SDK_FACTORY_PATHS.fineTuning, "FineTuningServing__factory"),
    erc1967Proxy: { abi: proxyJson.abi, bytecode: proxyJson.bytecode },
  };
  return cached;
}
