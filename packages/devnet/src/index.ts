export { createJsonRpcProvider } from "./create-json-rpc-provider.js";
export {
  type DeployZeroGContractsParameters,
  type DeployZeroGContractsReturnType,
  deployZeroGContracts,
  SDK_HARDHAT_ADDRESSES,
  type ZeroGContracts,
} from "./deploy-zerog-contracts.js";
export { createDevnetPolicy, type DevnetPolicy, NRAS_ISSUER } from "./devnet-policy.js";
export { DevnetError, type DevnetErrorCode, type DevnetErrorOptions } from "./errors.js";
export {
  FINE_TUNING_SETTLEMENT_TYPES,
  type FineTuningSettlement,
  fineTuningSettlementDomain,
  signFineTuningSettlement,
} from "./fine-tuning-contract.js";
export {
  DEFAULT_FINE_TUNING_MODELS,
  DEVNET_MINI_LM,
  type FineTuningModel,
  QWEN_2_5_0_5B_INSTRUCT,
} from "./fine-tuning-models.js";
export {
  DEFAULT_FINE_TUNING_TIMING,
  type FineTuningFaults,
  type FineTuningStats,
  type FineTuningTiming,
} from "./fine-tuning-pipeline.js";
export {
  cancelTaskDigest,
  createTaskDigest,
  datasetUploadDigest,
  loraDownloadDigest,
  type RecoveredSigner,
  recoverDigestSigner,
  signDigest,
} from "./fine-tuning-signatures.js";
export {
  FINE_TUNING_STATUSES,
  type FineTuningStatus,
  type FineTuningTaskJson,
  type TaskDelivery,
} from "./fine-tuning-task.js";
export {
  type ChatMessage,
  countPromptTokens,
  generateCompletion,
  type MockCompletion,
  messageText,
  tokenize,
} from "./mock-model.js";
export {
  type EncryptModelParameters,
  type EncryptModelReturnType,
  encryptModel,
  encryptSecretForUser,
  MODEL_CHUNK_SIZE,
} from "./model-encryption.js";
export {
  type CreatePcsResponsesParameters,
  createPcsResponses,
  type PcsResponses,
  type SignedPcsDocument,
} from "./pcs-responses.js";
export {
  type AttestationContext,
  type AttestationSource,
  addressAsciiReportData,
  devnetAppCompose,
  devnetFineTuningAppCompose,
  placeholderAttestation,
} from "./placeholder-attestation.js";
export {
  DEFAULT_FINE_TUNING_QUOTA,
  type FineTuningQuota,
  type FineTuningServiceRecord,
  fineTuningServiceExists,
  type RegisterFineTuningServiceParameters,
  type RegisterFineTuningServiceReturnType,
  registerFineTuningService,
} from "./register-fine-tuning-service.js";
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
  type DevnetFineTuningSpec,
  type DevnetProviderSpec,
  type StartDevnetParameters,
  type StartDevnetReturnType,
  startDevnet,
} from "./start-devnet.js";
export {
  type FineTuningProviderChain,
  type FineTuningProviderSimulatorHandle,
  type FineTuningTaskView,
  type StartFineTuningProviderSimulatorParameters,
  type StartFineTuningProviderSimulatorReturnType,
  startFineTuningProviderSimulator,
} from "./start-fine-tuning-provider-simulator.js";
export {
  type PccsEndpoint,
  type PccsFaults,
  type PccsSimulatorHandle,
  type StartPccsSimulatorParameters,
  type StartPccsSimulatorReturnType,
  startPccsSimulator,
} from "./start-pccs-simulator.js";
export {
  type BilledRequest,
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
export {
  type TrainLoraAdapterParameters,
  type TrainLoraAdapterReturnType,
  trainLoraAdapter,
} from "./train-lora-adapter.js";
