export { createJsonRpcProvider } from "./create-json-rpc-provider.js";
export {
  type DeployZeroGContractsParameters,
  type DeployZeroGContractsReturnType,
  deployZeroGContracts,
  SDK_HARDHAT_ADDRESSES,
  type ZeroGContracts,
} from "./deploy-zerog-contracts.js";
export { DevnetError, type DevnetErrorCode, type DevnetErrorOptions } from "./errors.js";
export {
  type ChatMessage,
  countPromptTokens,
  generateCompletion,
  type MockCompletion,
  messageText,
  tokenize,
} from "./mock-model.js";
export {
  type AttestationContext,
  type AttestationSource,
  addressAsciiReportData,
  devnetAppCompose,
  placeholderAttestation,
} from "./placeholder-attestation.js";
export {
  acknowledgeTeeSignerByOwner,
  PROVIDER_STAKE,
  type RegisterProviderServiceParameters,
  type RegisterProviderServiceReturnType,
  registerProviderService,
  type ServiceType,
  type Verifiability,
} from "./register-provider-service.js";
export {
  type ContractArtifact,
  loadZeroGArtifacts,
  SDK_FACTORY_PATHS,
  type ZeroGArtifacts,
} from "./sdk-artifacts.js";
export {
  type CreateSessionAuthorizationParameters,
  createSessionAuthorization,
  EPHEMERAL_TOKEN_ID,
  EPHEMERAL_TOKEN_MAX_DURATION_MS,
  type ParsedSessionToken,
  parseSessionToken,
  type SessionToken,
  type SessionTokenFailureReason,
  type VerifySessionTokenReturnType,
  verifySessionToken,
} from "./session-token.js";
export {
  hashUserRequests,
  SETTLEMENT_STATUS,
  type SettleFeesParameters,
  type SettleFeesReturnType,
  type SettlementStatus,
  settleFees,
  signTeeSettlement,
  TEE_SETTLEMENT_TYPES,
  type TeeSettlementData,
  teeSettlementDomain,
  type UnsettledRequest,
  type UserSettlementOutcome,
} from "./settle-fees.js";
export type { ChatSignature } from "./signature-store.js";
export {
  type Chain,
  DEVNET_CHAIN_ID,
  DEVNET_GAS_PRICE,
  DEVNET_MNEMONIC,
  type DevnetAccount,
  type StartChainParameters,
  type StartChainReturnType,
  startChain,
} from "./start-chain.js";
export {
  DEFAULT_DEVNET_PROVIDERS,
  type Devnet,
  type DevnetProviderSpec,
  type StartDevnetParameters,
  type StartDevnetReturnType,
  startDevnet,
} from "./start-devnet.js";
export {
  type ProviderFaults,
  type ProviderSimulatorChain,
  type ProviderSimulatorHandle,
  type ProviderSimulatorStats,
  type StartProviderSimulatorParameters,
  type StartProviderSimulatorReturnType,
  startProviderSimulator,
} from "./start-provider-simulator.js";
export {
  type CreateTeeSimAttestationParameters,
  type CreateTeeSimAttestationReturnType,
  createTeeSimAttestation,
  type DevnetTrust,
} from "./tee-sim-attestation.js";
