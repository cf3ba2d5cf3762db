import {
  CONTRACT_ADDRESSES,
  createZGComputeNetworkBroker,
  getNetworkType,
  isDevMode,
} from "@0gfoundation/0g-compute-ts-sdk";
import { type JsonRpcProvider, Wallet } from "ethers";
import {
  BoundedJsonRpcProvider,
  ChainRpcError,
  chainIdOf,
  defaultRpcLimits,
  type RpcLimits,
  rpcCall,
  urlOrigin,
} from "./chain-rpc.js";

export type ZeroGBroker = Awaited<ReturnType<typeof createZGComputeNetworkBroker>>;

/** Addresses of the 0G compute contracts (proxies) on a chain. */
export interface ZeroGContracts {
  ledger: string;
  inference: string;
  fineTuning: string;
}

export interface ZeroGNetwork {
  /** "devnet", "testnet", "mainnet" or "custom": for logs and proofs. */
  name: string;
  rpcUrl: string;
  /** Explicit contracts; undefined lets the SDK pick them from the chain id (testnet, mainnet). */
  contracts?: ZeroGContracts | undefined;
  /** Gas price in neuron for every transaction; avoids the SDK's 1 s fee lookup per transaction. */
  gasPrice?: number | undefined;
  /** Deadline and size bound of every chain RPC request. Default `defaultRpcLimits` (30 s, 32 MiB). */
  rpcLimits?: RpcLimits | undefined;
  /**
   * The chain every transaction is signed for, read once at start (`readChainId`), so the chain
   * monitor compares the RPC's with this one; undefined reads it when the broker connects.
   */
  chainId?: bigint | undefined;
}

/** 0G networks the SDK knows (`constants.js` of the SDK). */
export const knownNetworks = {
  testnet: { name: "testnet", rpcUrl: "https://evmrpc-testnet.0g.ai", chainId: 16602 },
  mainnet: { name: "mainnet", rpcUrl: "https://evmrpc.0g.ai", chainId: 16661 },
} as const;

/**
 * Connects a wallet to 0G and builds the SDK broker. The key stays inside the ethers Wallet;
 * it is never logged or stored.
 */
export async function connectBroker(
  network: ZeroGNetwork,
  walletKey: string,
): Promise<{
  broker: ZeroGBroker;
  wallet: Wallet;
  chain: JsonRpcProvider;
  chainId: bigint;
  /** The contracts in use: the network's, else the SDK's for the chain id. */
  contracts: ZeroGContracts;
}> {
  const limits = network.rpcLimits ?? defaultRpcLimits;
  const chainId = network.chainId ?? (await readChainId(network.rpcUrl, limits));
  const chain = new BoundedJsonRpcProvider(network.rpcUrl, chainId, limits);
  const wallet = new Wallet(walletKey, chain);
  const c = network.contracts;
  // step 11 (tenths): the SDK's default 1.1 throws in BigInt() when a gas retry happens.
  const broker = await createZGComputeNetworkBroker(
    wallet as never, // the SDK types name the CommonJS build of ethers
    c?.ledger,
    c?.inference,
    c?.fineTuning,
    network.gasPrice,
    undefined,
    11,
  );
  return { broker, wallet, chain, chainId, contracts: c ?? sdkContracts(chainId) };
}

/** The SDK's default contracts for a chain id (testnet, mainnet, hardhat), as its broker picks them. */
function sdkContracts(chainId: bigint): ZeroGContracts {
  const type = getNetworkType(chainId);
  const set =
    type === "testnet" && isDevMode()
      ? CONTRACT_ADDRESSES.testnetDev
      : type === "unknown"
        ? CONTRACT_ADDRESSES.testnet
        : CONTRACT_ADDRESSES[type];
  return { ledger: set.ledger, inference: set.inference, fineTuning: set.fineTuning };
}

/**
 * Makes the SDK forget its session token and cached account generation for `provider`, so that its next
 * `getHeader` signs a token for the account as it is on chain now. The SDK clears them only in its own
 * `revokeAllTokens`; a revocation made elsewhere (another process, the 0G CLI) would otherwise leave it
 * sending a token the provider refuses until the token expires (24 h). Keys of the pinned SDK 0.9.0
 * (`inference/broker/base.js`).
 */
export function forgetSdkSession(broker: ZeroGBroker, user: string, provider: string): void {
  const { cache } = broker.inference.requestProcessor as unknown as {
    cache: { setItem(key: string, value: null, ttlMs: number, type: string): void };
  };
  cache.setItem(`session_${user}_${provider}`, null, -1, "other");
  cache.setItem(`account_info_${user}_${provider}`, null, -1, "other");
}

/** `eth_chainId`, with an error that says which RPC failed (ethers would retry forever at start-up). */
export async function readChainId(rpcUrl: string, limits: RpcLimits): Promise<bigint> {
  let result: unknown;
  try {
    // 10 s at most at start-up: an operator waits for this.
    result = await rpcCall(rpcUrl, "eth_chainId", {
      ...limits,
      timeoutMs: Math.min(limits.timeoutMs, 10_000),
    });
  } catch (err) {
    if (!(err instanceof ChainRpcError)) throw err;
    const problem =
      err.kind === "refused"
        ? err.message
        : `cannot reach the 0G chain RPC at ${urlOrigin(rpcUrl)} (${err.detail})`;
    throw new Error(`${problem}; check --rpc-url / ZEROG_RPC_URL`);
  }
  const chainId = chainIdOf(result);
  if (chainId === undefined) {
    throw new Error(
      `the 0G chain RPC at ${urlOrigin(rpcUrl)} answered eth_chainId with no chain id; check --rpc-url / ZEROG_RPC_URL`,
    );
  }
  return chainId;
}
