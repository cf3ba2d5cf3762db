import { create } from "@bufbuild/protobuf";
import {
  type ComputeTask,
  type Service,
  ServiceSchema,
  TaskType,
  VerificationMethod,
  verificationName,
} from "@chaoschain/zerog-core";
import type { ServiceFilter } from "../../backend.js";
import type { FineTuningService } from "./fine-tuning-contract.js";

export type SelectServicesResult =
  | { ok: true; services: FineTuningService[] }
  | { ok: false; refusal: string };

/** "NVIDIA H100 80GB" and "h100" name the same GPU for matching: letters and digits, lower case. */
function gpuKey(name: string): string {
  return name
    .toLowerCase()
    .replace(/^nvidia\s+/, "")
    .replace(/[^a-z0-9]/g, "");
}

/** GB (decimal, as FineTuningServing's `nodeMemory`) of a size string like "16GB", "512MiB", "8G". */
function memoryGb(size: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?$/i.exec(size.trim());
  if (!m) return undefined;
  const power = " kmgt".indexOf((m[2] || " ").toLowerCase());
  return (Number(m[1]) * (m[3] ? 1024 : 1000) ** power) / 1e9;
}

/** Base models on offer from TEE-acknowledged services, sorted. */
export function baseModelsOnOffer(services: readonly FineTuningService[]): string[] {
  return [...new Set(services.filter((s) => s.teeSignerAcknowledged).flatMap((s) => s.models))].sort();
}

/**
 * The FineTuningServing services able to run a fine-tuning task, best first (free before occupied, then
 * cheapest per token), or why none is: the base model must be in the service's model list, its TEE signer
 * acknowledged by 0G, the pinned provider (if any) its own, `resources.gpu_type` its quota's GPU type,
 * `resources.gpu` at most its GPU count and `resources.memory` at most its node memory. A `training` task
 * is refused: 0G offers fine-tuning of base models only.
 *
 * @example
 * selectServices(await serving.services(), task) // { ok: true, services: [...] }
 */
export function selectServices(
  services: readonly FineTuningService[],
  task: ComputeTask,
): SelectServicesResult {
  const models = baseModelsOnOffer(services);
  const onOffer = models.length ? models.join(", ") : "none right now";
  if (task.taskType === TaskType.TRAINING) {
    return {
      ok: false,
      refusal:
        "training from scratch is not offered by any 0G provider: 0G offers fine-tuning of a base model on your " +
        `dataset; submit task_type "fine-tuning" with one of the base models on offer: ${onOffer}`,
    };
  }
  if (
    task.verification !== VerificationMethod.TEE_ML &&
    task.verification !== VerificationMethod.UNSPECIFIED
  ) {
    return {
      ok: false,
      refusal: `0G fine-tuning runs in TEEs only; submit with verification tee-ml, not ${verificationName(task.verification)}`,
    };
  }
  const acknowledged = services.filter((s) => s.teeSignerAcknowledged);
  const forModel = acknowledged.filter((s) => s.models.includes(task.model));
  if (forModel.length === 0) {
    return {
      ok: false,
      refusal: `no fine-tuning provider offers base model ${JSON.stringify(task.model)}; base models on offer: ${onOffer}`,
    };
  }
  const pin = task.providerAddress.toLowerCase();
  const pinned = pin ? forModel.filter((s) => s.provider.toLowerCase() === pin) : forModel;
  if (pinned.length === 0) {
    return {
      ok: false,
      refusal: `provider ${task.providerAddress} does not fine-tune ${JSON.stringify(task.model)}`,
    };
  }
  const r = task.resources;
  const wantedGpu = r?.gpuType ? gpuKey(r.gpuType) : "";
  const wantedMemory = r?.memory ? memoryGb(r.memory) : undefined;
  const fit = pinned.filter(
    (s) =>
      (wantedGpu === "" || gpuKey(s.quota.gpuType) === wantedGpu) &&
      BigInt(r?.gpu ?? 0) <= s.quota.gpuCount &&
      (wantedMemory === undefined || wantedMemory <= Number(s.quota.nodeMemory)),
  );
  if (fit.length === 0) {
    const offers = pinned
      .map((s) => `${s.quota.gpuCount}× ${s.quota.gpuType || "unstated GPU"}, ${s.quota.nodeMemory} GB`)
      .join("; ");
    return {
      ok: false,
      refusal: `no provider of ${JSON.stringify(task.model)} has the resources asked (${describeResources(task)}); on offer: ${offers}`,
    };
  }
  return {
    ok: true,
    services: fit.sort((a, b) => {
      if (a.occupied !== b.occupied) return a.occupied ? 1 : -1;
      return a.pricePerToken < b.pricePerToken ? -1 : a.pricePerToken > b.pricePerToken ? 1 : 0;
    }),
  };
}

function describeResources(task: ComputeTask): string {
  const r = task.resources;
  const parts = [
    r?.gpuType ? `gpu_type ${r.gpuType}` : "",
    r?.gpu ? `${r.gpu} GPU(s)` : "",
    r?.memory ? `memory ${r.memory}` : "",
  ];
  return parts.filter(Boolean).join(", ");
}

/** `Service.service_type` of a fine-tuning base model. */
export const fineTuningServiceType = "fine-tuning";

/**
 * FineTuningServing services as the wire's `Service`, one per base model: `service_type` "fine-tuning",
 * verifiability tee-ml, `input_price_neuron` the price per token per epoch (`output_price_neuron` 0),
 * the quota's GPU type. Only services whose TEE signer 0G acknowledged.
 */
export function fineTuningServiceList(
  services: readonly FineTuningService[],
  filter: ServiceFilter = {},
): Service[] {
  if (filter.verification !== undefined && filter.verification !== VerificationMethod.TEE_ML) return [];
  return services
    .filter((s) => s.teeSignerAcknowledged)
    .flatMap((s) =>
      s.models
        .filter((model) => !filter.model || model === filter.model)
        .map((model) =>
          create(ServiceSchema, {
            providerAddress: s.provider,
            model,
            url: s.url,
            verifiability: VerificationMethod.TEE_ML,
            serviceType: fineTuningServiceType,
            inputPriceNeuron: s.pricePerToken.toString(),
            outputPriceNeuron: "0",
            teeSignerAddress: s.teeSignerAddress,
            teeSignerAcknowledged: true,
            gpuType: s.quota.gpuType,
          }),
        ),
    );
}
