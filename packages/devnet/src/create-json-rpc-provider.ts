import { JsonRpcProvider, Network } from "ethers";

/**
 * An ethers v6 provider tuned for a local instamine chain (and fine for 0G testnet too):
 * a static network (no chain-id probing before every call) and no result cache, so a receipt or a
 * nonce read right after a transaction is never stale (ethers caches some results for 250 ms by
 * default, which makes back-to-back SDK transactions reuse nonces).
 *
 * @example
 * const provider = createJsonRpcProvider(devnet.rpcUrl, devnet.chainId);
 * const wallet = new Wallet(devnet.userPrivateKey, provider);
 */
export function createJsonRpcProvider(rpcUrl: string, chainId: number): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, Network.from(chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: 100,
  });
}
