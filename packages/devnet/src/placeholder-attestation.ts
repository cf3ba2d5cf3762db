import { createHash } from "node:crypto";
import { getAddress } from "ethers";

/** What the simulator knows about itself when asked for an attestation. */
export type AttestationContext = {
  /** Served model ids (the first is the on-chain one). */
  models: readonly string[];
  /** The dstack app-compose JSON of this provider (see {@link devnetAppCompose}). */
  appCompose: string;
};

/** Returns the JSON body served at `GET /v1/quote` for a TEE signer address. */
export type AttestationSource = (teeAddress: string, context: AttestationContext) => Promise<object> | object;

/** A dstack app-compose document (`manifest_version` 2) running `services` with docker compose. */
function dstackAppCompose(name: string, services: readonly string[]): string {
  return JSON.stringify({
    manifest_version: 2,
    name,
    runner: "docker-compose",
    docker_compose_file: ["services:", ...services, ""].join("\n"),
    kms_enabled: true,
    gateway_enabled: false,
    public_logs: true,
    public_sysinfo: true,
    local_key_provider_enabled: false,
    no_instance_id: false,
  });
}

/**
 * A small, realistic dstack app-compose document naming the provider image.
 *
 * @example
 * devnetAppCompose("llama-3-8b")
 */
export function devnetAppCompose(model: string): string {
  return dstackAppCompose(`zerog-devnet-provider-${model}`, [
    "  broker:",
    "    image: ghcr.io/0glabs/0g-serving-broker:devnet",
    "    ports: ['8080:8080']",
    "  llm:",
    `    image: vllm/vllm-openai:latest # serves ${model}`,
  ]);
}

/**
 * The dstack app-compose document of the devnet's fine-tuning provider (broker + trainer images).
 *
 * @example
 * devnetFineTuningAppCompose(["Qwen2.5-0.5B-Instruct"])
 */
export function devnetFineTuningAppCompose(models: readonly string[]): string {
  return dstackAppCompose("zerog-devnet-fine-tuning-provider", [
    "  0g-fine-tune-broker:",
    "    image: ghcr.io/0gfoundation/0g-serving-broker:devnet",
    "    command: 0g-fine-tuning-server",
    "    ports: ['3080:3080']",
    `    # base models: ${models.join(", ")}`,
  ]);
}

/**
 * 0G legacy report-data binding: the 42 ASCII characters of the EIP-55 signer address,
 * zero-padded to 64 bytes (`api/common/tee/tee.go`).
 */
export function addressAsciiReportData(teeAddress: string): Uint8Array {
  const out = new Uint8Array(64);
  out.set(Buffer.from(getAddress(teeAddress), "ascii"));
  return out;
}

/**
 * A structurally valid dstack `GetQuoteResponse` whose `quote` is NOT a real TDX quote (placeholder
 * bytes). `report_data` (base64, address-ascii binding) and the `compose-hash` event are consistent,
 * so the SDK's `verifyService` signer and compose checks pass; a real quote verifier rejects it.
 * `startDevnet` uses `@chaoschain/zerog-tee-sim` instead when it is available.
 */
export function placeholderAttestation(teeAddress: string, appCompose: string): object {
  const reportData = addressAsciiReportData(teeAddress);
  const composeHash = createHash("sha256").update(appCompose).digest("hex");
  const eventLog = [
    { imr: 3, event_type: 134217729, digest: "", event: "app-id", event_payload: "00".repeat(20) },
    { imr: 3, event_type: 134217729, digest: "", event: "compose-hash", event_payload: composeHash },
  ];
  return {
    quote: `${Buffer.from("ZEROG-DEVNET-PLACEHOLDER-QUOTE").toString("hex")}${Buffer.from(reportData).toString("hex")}`,
    event_log: JSON.stringify(eventLog),
    report_data: Buffer.from(reportData).toString("base64"),
    tcb_info: { app_compose: appCompose, compose_hash: composeHash },
    vm_config: "{}",
    placeholder: true,
  };
}
