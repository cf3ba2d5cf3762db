import {
  Contract,
  ContractFactory,
  getAddress,
  getCreateAddress,
  Interface,
  type InterfaceAbi,
  type TransactionResponse,
  toQuantity,
  Wallet,
} from "ethers";
import { DevnetError } from "./errors.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";
import type { Chain } from "./start-chain.js";

/** Proxy addresses of the three 0G serving contracts. */
export type ZeroGContracts = { ledger: string; inference: string; fineTuning: string };

export type DeployZeroGContractsParameters = {
  /** Refund lock time in seconds for both serving contracts (contract range 3600..604800). Default 86400. */
  lockTime?: number | undefined;
  /** FineTuningServing penalty percentage. Default 30 (upstream default). */
  penaltyPercentage?: number | undefined;
};

export type DeployZeroGContractsReturnType = ZeroGContracts;

/**
 * The addresses the 0G SDK 0.9.0 hard-codes for chain 31337 (`CONTRACT_ADDRESSES.hardhat` in
 * `lib.commonjs/constants.js`): the CREATE addresses of Hardhat account 0 at nonces 2, 6 and 12.
 */
export const SDK_HARDHAT_ADDRESSES: ZeroGContracts = {
  ledger: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
  inference: "0x0165878A594ca255338adfa4d48449f69242Eb8F",
  fineTuning: "0xA51c1fc2f0D1a1b8494Ed1FE312d7C3a78Ed91C0",
};

const HARDHAT_ACCOUNT_0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const HARDHAT_NONCES = { ledger: 2, inference: 6, fineTuning: 12 } as const;

/**
 * Deploys the real 0G contracts (bytecode from the SDK's typechain factories) behind ERC1967 proxies
 * initialised in the constructor, then registers both serving contracts in the ledger
 * (`registerService("inference","v1.0",…)`, `registerService("fine-tuning","v1.0",…)`), which the
 * SDK needs to resolve the ledger service names `inference-v1.0` / `fine-tuning-v1.0`.
 *
 * On chain 31337 with the devnet mnemonic and a fresh deployer (nonce 0) the proxies land on the
 * addresses the SDK uses by default for `hardhat`, so `createZGComputeNetworkBroker(wallet)` works
 * even without explicit addresses (ganache's `evm_setAccountNonce` skips the nonce gaps).
 *
 * @example
 * const chain = await startChain();
 * const contracts = await deployZeroGContracts(chain);
 */
export async function deployZeroGContracts(
  chain: Chain,
  params: DeployZeroGContractsParameters = {},
): Promise<ZeroGContracts> {
  const lockTime = params.lockTime ?? 86_400;
  const penalty = params.penaltyPercentage ?? 30;
  const artifacts = loadZeroGArtifacts();
  const wallet = new Wallet(chain.accounts.deployer.privateKey, chain.provider);
  const owner = wallet.address;
  const ledgerIface = new Interface(artifacts.ledger.abi);
  const inferenceIface = new Interface(artifacts.inference.abi);
  const ftIface = new Interface(artifacts.fineTuning.abi);
  const proxyFactory = new ContractFactory(artifacts.erc1967Proxy.abi, artifacts.erc1967Proxy.bytecode);
  const implData = (a: { abi: InterfaceAbi; bytecode: string }) =>
    new ContractFactory(a.abi, a.bytecode).bytecode;

  const startNonce = await chain.provider.getTransactionCount(owner, "latest");
  const hardhatLayout =
    chain.chainId === 31337 && startNonce === 0 && getAddress(owner) === getAddress(HARDHAT_ACCOUNT_0);
  let nonce = startNonce;
  const sent: Array<Promise<TransactionResponse>> = [];
  // Explicit nonces and gas limits: no estimateGas / receipt polling round-trips per transaction.
  const send = (tx: { to?: string; data: string; gasLimit: bigint }): string => {
    const address = getCreateAddress({ from: owner, nonce });
    sent.push(wallet.sendTransaction({ ...tx, nonce: nonce++, chainId: chain.chainId }));
    return address;
  };
  const deployProxy = async (impl: string, init: string) =>
    send({ data: (await proxyFactory.getDeployTransaction(impl, init)).data, gasLimit: 2_000_000n });
  const skipTo = async (target: number) => {
    if (!hardhatLayout || nonce >= target) return;
    await Promise.all(sent);
    // Ganache dev RPC: jump the deployer's nonce instead of burning transactions.
    await chain.provider.send("evm_setAccountNonce", [owner, toQuantity(target)]);
    nonce = target;
  };

  try {
    const ledgerImpl = send({ data: implData(artifacts.ledger), gasLimit: 8_000_000n });
    const inferenceImpl = send({ data: implData(artifacts.inference), gasLimit: 10_000_000n });
    await skipTo(HARDHAT_NONCES.ledger);
    const ledger = await deployProxy(ledgerImpl, ledgerIface.encodeFunctionData("initialize", [owner]));
    const ftImpl = send({ data: implData(artifacts.fineTuning), gasLimit: 12_000_000n });
    await skipTo(HARDHAT_NONCES.inference);
    const inference = await deployProxy(
      inferenceImpl,
      inferenceIface.encodeFunctionData("initialize", [lockTime, ledger, owner]),
    );
    const register = (type: string, address: string, description: string) =>
      send({
        to: ledger,
        data: ledgerIface.encodeFunctionData("registerService", [type, "v1.0", address, description]),
        gasLimit: 1_000_000n,
      });
    register("inference", inference, "0G inference serving (local devnet)");
    await skipTo(HARDHAT_NONCES.fineTuning);
    const fineTuning = await deployProxy(
      ftImpl,
      ftIface.encodeFunctionData("initialize", [lockTime, ledger, owner, penalty]),
    );
    register("fine-tuning", fineTuning, "0G fine-tuning serving (local devnet)");
    const receipts = await Promise.all((await Promise.all(sent)).map((tx) => tx.wait()));
    const failed = receipts.findIndex((r) => r?.status !== 1);
    if (failed >= 0) throw new Error(`deployment transaction ${failed} reverted`);
    const [li, ii, fi] = await Promise.all(
      [ledger, inference, fineTuning].map((a) =>
        new Contract(a, ["function initialized() view returns (bool)"], chain.provider).getFunction(
          "initialized",
        )(),
      ),
    );
    if (!li || !ii || !fi) throw new Error("a proxy is not initialized");
    return { ledger, inference, fineTuning };
  } catch (cause) {
    await Promise.allSettled(sent);
    throw new DevnetError("Deploying the 0G contracts failed", {
      code: "CONTRACT_DEPLOY_FAILED",
      details: `chain ${chain.chainId} at ${chain.rpcUrl}, deployer ${owner}`,
      cause,
    });
  }
}
