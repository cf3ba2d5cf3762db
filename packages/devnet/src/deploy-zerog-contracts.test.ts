import { Contract, getCreateAddress, Wallet } from "ethers";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  deployZeroGContracts,
  SDK_HARDHAT_ADDRESSES,
  type ZeroGContracts,
} from "./deploy-zerog-contracts.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";
import { type Chain, startChain } from "./start-chain.js";

let chain: Chain;
let contracts: ZeroGContracts;

beforeAll(async () => {
  chain = await startChain({ chainId: 1337, providerAccounts: 2 });
  contracts = await deployZeroGContracts(chain);
});
afterAll(async () => {
  await chain?.close();
});

test("startChain: 127.0.0.1, chain id, deterministic funded accounts", async () => {
  expect(chain.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(Number((await chain.provider.getNetwork()).chainId)).toBe(1337);
  expect(chain.accounts.deployer.address).toBe("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  expect(chain.accounts.providers).toHaveLength(2);
  expect(new Wallet(chain.accounts.user.privateKey).address).toBe(chain.accounts.user.address);
  expect(await chain.provider.getBalance(chain.accounts.user.address)).toBeGreaterThan(10n ** 21n);
});

test("off chain 31337 the proxies get consecutive CREATE addresses (no nonce jumps)", () => {
  expect(contracts.inference).not.toBe(SDK_HARDHAT_ADDRESSES.inference);
  expect(contracts.fineTuning).not.toBe(SDK_HARDHAT_ADDRESSES.fineTuning);
  expect(contracts.inference).toBe(getCreateAddress({ from: chain.accounts.deployer.address, nonce: 4 }));
});

test("proxies are initialised, owned by the deployer, and registered in the ledger", async () => {
  const a = loadZeroGArtifacts();
  const ledger = new Contract(contracts.ledger, a.ledger.abi, chain.provider);
  const inference = new Contract(contracts.inference, a.inference.abi, chain.provider);
  expect(await inference.getFunction("ledgerAddress")()).toBe(contracts.ledger);
  expect(await inference.getFunction("owner")()).toBe(chain.accounts.deployer.address);
  expect(await inference.getFunction("lockTime")()).toBe(86_400n);
  expect(await inference.getFunction("MIN_PROVIDER_STAKE")()).toBe(10n ** 20n);
  expect((await ledger.getFunction("getServiceInfo")(contracts.inference)).fullName).toBe("inference-v1.0");
  expect((await ledger.getFunction("getServiceInfo")(contracts.fineTuning)).fullName).toBe(
    "fine-tuning-v1.0",
  );
  const asOwner = new Contract(
    contracts.inference,
    a.inference.abi,
    new Wallet(chain.accounts.deployer.privateKey, chain.provider),
  );
  await expect(
    asOwner.getFunction("initialize").staticCall(3600, contracts.ledger, chain.accounts.deployer.address),
  ).rejects.toThrow();
});
