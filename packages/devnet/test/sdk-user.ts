import { createRequire } from "node:module";
import type { ZGComputeNetworkBroker } from "@0gfoundation/0g-compute-ts-sdk";
import { parseEther, toQuantity } from "ethers";
import { DEVNET_GAS_PRICE } from "../src/start-chain.js";
import type { Devnet } from "../src/start-devnet.js";

// SDK pitfall: the ESM build bundles form-data's *browser* entry (`window.FormData`), so
// `uploadDatasetToTEE` throws "window is not defined" under Node. The CommonJS build works; with it the
// wallet must come from ethers' CommonJS build too (the SDK checks `signer instanceof ethers.Wallet`).
const require = createRequire(import.meta.url);
export const sdk =
  require("@0gfoundation/0g-compute-ts-sdk") as typeof import("@0gfoundation/0g-compute-ts-sdk");
const cjs = require("ethers") as typeof import("ethers");
type SdkSigner = Parameters<typeof sdk.createZGComputeNetworkBroker>[0];

export type SdkUser = { wallet: import("ethers").Wallet; broker: ZGComputeNetworkBroker };

/**
 * A fresh funded wallet with a 0G ledger and its SDK broker (CommonJS build), so tests share no
 * accounts, deliverables or nonces. `fineTuningFunds` (0G) opens the sub-account with `provider`.
 */
export async function newSdkUser(
  devnet: Devnet,
  options: { fineTuningProvider?: string; fineTuningFunds?: string } = {},
): Promise<SdkUser> {
  const rpc = new cjs.JsonRpcProvider(devnet.rpcUrl, devnet.chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
  });
  const wallet = new cjs.Wallet(cjs.Wallet.createRandom().privateKey, rpc);
  await devnet.chain.provider.send("evm_setAccountBalance", [wallet.address, toQuantity(parseEther("100"))]);
  const broker = await sdk.createZGComputeNetworkBroker(
    wallet as unknown as SdkSigner,
    devnet.contracts.ledger,
    devnet.contracts.inference,
    devnet.contracts.fineTuning,
    DEVNET_GAS_PRICE,
  );
  await broker.ledger.addLedger(10);
  if (options.fineTuningProvider) {
    const funds = parseEther(options.fineTuningFunds ?? "1");
    await broker.ledger.transferFund(options.fineTuningProvider, "fine-tuning", funds, DEVNET_GAS_PRICE);
  }
  return { wallet, broker };
}
