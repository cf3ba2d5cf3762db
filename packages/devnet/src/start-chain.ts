import type { AddressInfo } from "node:net";
import type { JsonRpcProvider } from "ethers";
import { getAddress } from "ethers";
import ganache from "ganache";
import { createJsonRpcProvider } from "./create-json-rpc-provider.js";
import { DevnetError } from "./errors.js";

/** A funded account of the local chain. */
export type DevnetAccount = { address: string; privateKey: string };

/**
 * The well-known Hardhat/Anvil test mnemonic. With it, account 0 is
 * `0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266`, so a fresh deploy on chain 31337 can land the
 * contracts on the addresses the 0G SDK hard-codes for `hardhat` (see `deployZeroGContracts`).
 */
export const DEVNET_MNEMONIC = "test test test test test test test test test test test junk";

/** Chain id of the devnet (the SDK's `HARDHAT_CHAIN_ID`). */
export const DEVNET_CHAIN_ID = 31337;

export type StartChainParameters = {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number | undefined;
  /** Default 31337. */
  chainId?: number | undefined;
  /** Number of provider accounts after deployer (index 0) and user (index 1). Default 8. */
  providerAccounts?: number | undefined;
  /** Balance of every account in 0G (ether units). Default 10000. */
  accountBalance?: number | undefined;
  /** HD wallet mnemonic. Default {@link DEVNET_MNEMONIC}. */
  mnemonic?: string | undefined;
};

export type Chain = {
  /** `http://127.0.0.1:<port>` */
  rpcUrl: string;
  chainId: number;
  accounts: {
    /** Account 0: deploys the contracts and owns them (ledger owner, serving-contract owner). */
    deployer: DevnetAccount;
    /** Account 1: a funded wallet for the client side (the bridge). */
    user: DevnetAccount;
    /** Accounts 2..: one per provider (the contracts key services by provider address). */
    providers: DevnetAccount[];
  };
  /** Provider with a static network and no cache (see {@link createJsonRpcProvider}). */
  provider: JsonRpcProvider;
  close(): Promise<void>;
};

export type StartChainReturnType = Chain;

/**
 * Starts an in-process ganache 7 EVM on 127.0.0.1 with a deterministic HD wallet.
 *
 * @example
 * const chain = await startChain();
 * console.log(chain.rpcUrl, chain.accounts.user.address);
 * await chain.close();
 */
export async function startChain(params: StartChainParameters = {}): Promise<Chain> {
  const chainId = params.chainId ?? DEVNET_CHAIN_ID;
  const providerAccounts = params.providerAccounts ?? 8;
  const server = ganache.server({
    chain: { chainId, networkId: chainId },
    wallet: {
      mnemonic: params.mnemonic ?? DEVNET_MNEMONIC,
      totalAccounts: 2 + providerAccounts,
      defaultBalance: params.accountBalance ?? 10_000,
    },
    logging: { quiet: true },
    miner: { instamine: "eager" },
  });
  try {
    await server.listen(params.port ?? 0, "127.0.0.1");
  } catch (cause) {
    throw new DevnetError("Cannot start the local chain", {
      code: "CHAIN_START_FAILED",
      details: `ganache listen on 127.0.0.1:${params.port ?? 0}`,
      cause,
    });
  }
  const port = (server.address() as AddressInfo).port;
  const rpcUrl = `http://127.0.0.1:${port}`;
  const initial = server.provider.getInitialAccounts();
  const accounts = Object.entries(initial).map(
    ([address, info]): DevnetAccount => ({ address: getAddress(address), privateKey: info.secretKey }),
  );
  const [deployer, user, ...providers] = accounts;
  if (!deployer || !user)
    throw new DevnetError("ganache returned no accounts", { code: "CHAIN_START_FAILED" });
  const provider = createJsonRpcProvider(rpcUrl, chainId);
  let closed = false;
  return {
    rpcUrl,
    chainId,
    accounts: { deployer, user, providers },
    provider,
    async close() {
      if (closed) return;
      closed = true;
      provider.destroy();
      await server.close();
    },
  };
}

/**
 * Gas price (wei) to pass to the 0G SDK on the devnet. Without one, the SDK calls `getFeeData()` and
 * sleeps 1 s before every transaction (`ledger/contract/ledger.js` sendTx).
 */
export const DEVNET_GAS_PRICE = 2_000_000_000;
