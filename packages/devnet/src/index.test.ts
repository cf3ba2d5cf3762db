import { expect, test } from "vitest";
import * as devnet from "./index.js";

test("public API", () => {
  expect(Object.keys(devnet).sort()).toMatchInlineSnapshot(`
    [
      "DEFAULT_DEVNET_PROVIDERS",
      "DEVNET_CHAIN_ID",
      "DEVNET_GAS_PRICE",
      "DEVNET_MNEMONIC",
      "DevnetError",
      "EPHEMERAL_TOKEN_ID",
      "EPHEMERAL_TOKEN_MAX_DURATION_MS",
      "PROVIDER_STAKE",
      "SDK_FACTORY_PATHS",
      "SDK_HARDHAT_ADDRESSES",
      "SETTLEMENT_STATUS",
      "TEE_SETTLEMENT_TYPES",
      "acknowledgeTeeSignerByOwner",
      "addressAsciiReportData",
      "countPromptTokens",
      "createJsonRpcProvider",
      "createSessionAuthorization",
      "createTeeSimAttestation",
      "deployZeroGContracts",
      "devnetAppCompose",
      "generateCompletion",
      "hashUserRequests",
      "loadZeroGArtifacts",
      "messageText",
      "parseSessionToken",
      "placeholderAttestation",
      "registerProviderService",
      "settleFees",
      "signTeeSettlement",
      "startChain",
      "startDevnet",
      "startProviderSimulator",
      "teeSettlementDomain",
      "tokenize",
      "verifySessionToken",
    ]
  `);
});
