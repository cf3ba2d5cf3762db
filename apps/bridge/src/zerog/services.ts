import { create } from "@bufbuild/protobuf";
import {
  type ComputeTask,
  type Service,
  ServiceSchema,
  VerificationMethod,
  verificationFromName,
  verificationName,
  ZeroGError,
} from "@chaoschain/zerog-core";
import type { ServiceFilter } from "../backend.js";
import { RefreshingValue, type RefreshingValueOptions } from "./refreshing-value.js";
import type { ZeroGBroker } from "./sdk.js";

/** An on-chain inference service record, with its additionalInfo parsed. */
export interface ServiceRecord {
  provider: string;
  serviceType: string;
  url: string;
  model: string;
  verifiability: VerificationMethod;
  inputPrice: bigint;
  outputPrice: bigint;
  teeSignerAddress: string;
  teeSignerAcknowledged: boolean;
  additionalInfo: Record<string, unknown>;
  /** GPU model the record states (`additionalInfo.GPUType`), empty when it states none. */
  gpuType: string;
}

/**
 * The GPU model a service record states in its `additionalInfo` JSON (`GPUType`, any case, or
 * `gpu_type`); 0G inference records have no field of their own for it.
 */
export function statedGpuType(info: Record<string, unknown>): string {
  for (const [key, value] of Object.entries(info)) {
    if (/^gpu_?type$/i.test(key) && typeof value === "string") return value.trim().slice(0, 64);
  }
  return "";
}

function sameGpu(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The address whose signatures a service's responses must carry (SDK `response.js` rule). */
export function expectedSigner(svc: ServiceRecord): string {
  const info = svc.additionalInfo;
  if (
    info.ProviderType !== "centralized" &&
    info.TargetSeparated &&
    typeof info.TargetTeeAddress === "string"
  ) {
    return info.TargetTeeAddress;
  }
  return svc.teeSignerAddress;
}

/** `url` without the slashes it ends with; linear, where /\/+$/ backtracks over every run of slashes. */
function withoutTrailingSlashes(url: string): string {
  let end = url.length;
  while (end > 0 && url.charCodeAt(end - 1) === 47) end--;
  return url.slice(0, end);
}

function parseInfo(json: string): Record<string, unknown> {
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** How long a provider that failed ranks last: the first time, and at most (doubling in between). */
const failureCooldownMs = { first: 15_000, max: 5 * 60_000 };

/**
 * The services registered in the 0G inference contract (TEE signer acknowledged only), read again
 * every `ttlMs` behind the calls that use them ({@link RefreshingValue}): a chain RPC that is slow, down
 * or hanging holds up no Submit and no job while the last read is recent enough. With the latency this
 * bridge has seen from each provider.
 */
export class ServiceDirectory {
  readonly #broker: ZeroGBroker;
  readonly #records: RefreshingValue<ServiceRecord[]>;
  readonly #latency = new Map<string, number>();
  /** Providers that failed in a row lately (lower-case address): how often, and until when they rank last. */
  readonly #failing = new Map<string, { failures: number; until: number }>();
  readonly #now: () => number;

  constructor(broker: ZeroGBroker, ttlMs: number, options: Omit<RefreshingValueOptions, "ttlMs"> = {}) {
    this.#broker = broker;
    this.#now = options.now ?? Date.now;
    this.#records = new RefreshingValue(() => this.#load(), {
      ...options,
      ttlMs,
      toError: (err) =>
        new ZeroGError("chain_unavailable", "could not read the 0G service registry from the chain", {
          cause: err,
        }),
    });
  }

  records(): Promise<ServiceRecord[]> {
    return this.#records.get();
  }

  async #load(): Promise<ServiceRecord[]> {
    const records: ServiceRecord[] = [];
    const page = 50; // the contract's largest page (LimitTooLarge above it)
    for (let offset = 0; ; offset += page) {
      const batch = await this.#broker.inference.listService(offset, page, false);
      for (const s of batch) {
        const additionalInfo = parseInfo(s.additionalInfo);
        records.push({
          provider: s.provider,
          serviceType: s.serviceType,
          url: withoutTrailingSlashes(s.url),
          model: s.model,
          verifiability: verificationFromName(s.verifiability) ?? VerificationMethod.UNSPECIFIED,
          inputPrice: s.inputPrice,
          outputPrice: s.outputPrice,
          teeSignerAddress: s.teeSignerAddress,
          teeSignerAcknowledged: s.teeSignerAcknowledged,
          additionalInfo,
          gpuType: statedGpuType(additionalInfo),
        });
      }
      if (batch.length < page) return records;
    }
  }

  /** Services matching `filter`, as the wire `Service`. */
  async list(filter: ServiceFilter = {}): Promise<Service[]> {
    return (await this.records())
      .filter(
        (r) =>
          (!filter.model || r.model === filter.model) &&
          (!filter.verification || r.verifiability === filter.verification) &&
          (!filter.serviceType || r.serviceType === filter.serviceType),
      )
      .map((r) =>
        create(ServiceSchema, {
          providerAddress: r.provider,
          model: r.model,
          url: r.url,
          verifiability: r.verifiability,
          serviceType: r.serviceType,
          inputPriceNeuron: r.inputPrice.toString(),
          outputPriceNeuron: r.outputPrice.toString(),
          teeSignerAddress: r.teeSignerAddress,
          teeSignerAcknowledged: r.teeSignerAcknowledged,
          latencyMs: Math.round(this.#latency.get(r.provider.toLowerCase()) ?? 0),
          gpuType: r.gpuType,
        }),
      );
  }

  /**
   * Chat services able to run `task`, best first: the pinned provider only when the task pins one;
   * only those stating the GPU type asked for; otherwise cheapest first, then lowest latency seen.
   */
  async candidates(task: ComputeTask): Promise<ServiceRecord[]> {
    const gpuType = task.resources?.gpuType ?? "";
    return (await this.#offering(task))
      .filter((r) => gpuType === "" || sameGpu(r.gpuType, gpuType))
      .sort((a, b) => this.#rank(a, b));
  }

  /** Chat services of the task's model, verification and pinned provider, whatever their GPU. */
  async #offering(task: ComputeTask): Promise<ServiceRecord[]> {
    const pin = task.providerAddress.toLowerCase();
    return (await this.records()).filter(
      (r) =>
        r.serviceType === "chatbot" &&
        r.model === task.model &&
        r.verifiability === task.verification &&
        (pin === "" || r.provider.toLowerCase() === pin),
    );
  }

  #rank(a: ServiceRecord, b: ServiceRecord): number {
    // A provider that failed lately goes after the others (still tried, last), so that one that hangs or
    // is down does not take every job of its model first (a request it received is not sent again).
    const now = this.#now();
    const coolingUntil = (r: ServiceRecord) => {
      const until = this.#failing.get(r.provider.toLowerCase())?.until ?? 0;
      return until > now ? until : 0;
    };
    const byCooling = coolingUntil(a) - coolingUntil(b);
    if (byCooling !== 0) return byCooling;
    const cost = (r: ServiceRecord) => r.inputPrice + r.outputPrice;
    const byCost = cost(a) - cost(b);
    if (byCost !== 0n) return byCost < 0n ? -1 : 1;
    return (
      (this.#latency.get(a.provider.toLowerCase()) ?? 0) - (this.#latency.get(b.provider.toLowerCase()) ?? 0)
    );
  }

  /** Why no service can run `task`, naming what is on offer; undefined when one can. */
  async refusal(task: ComputeTask): Promise<string | undefined> {
    if ((await this.candidates(task)).length > 0) return undefined;
    const offering = await this.#offering(task);
    if (offering.length > 0) {
      const stated = [...new Set(offering.map((r) => r.gpuType).filter((g) => g !== ""))].sort();
      return (
        `no provider of model ${JSON.stringify(task.model)} states GPU type ${JSON.stringify(task.resources?.gpuType)}; ` +
        `GPU types on offer: ${stated.join(", ") || "none stated"} (leave resources.gpu_type empty to accept any GPU)`
      );
    }
    const records = await this.records();
    const forModel = records.filter((r) => r.model === task.model);
    if (forModel.length === 0) {
      const models = [...new Set(records.map((r) => r.model))].sort();
      return `no provider offers model ${JSON.stringify(task.model)}; models on offer: ${models.join(", ") || "none"}`;
    }
    if (
      task.providerAddress &&
      !forModel.some((r) => r.provider.toLowerCase() === task.providerAddress.toLowerCase())
    ) {
      return `provider ${task.providerAddress} does not offer model ${JSON.stringify(task.model)}`;
    }
    const modes = [...new Set(forModel.map((r) => verificationName(r.verifiability)).filter(Boolean))];
    return (
      `verification ${verificationName(task.verification)} is not offered for model ${JSON.stringify(task.model)}; ` +
      `on offer: ${modes.join(", ")}`
    );
  }

  /**
   * Records that a provider failed a job (down, refused, timed out, a proof that did not verify): it
   * ranks after the others for 15 s, doubled for each failure in a row, at most 5 minutes.
   */
  recordFailure(provider: string): void {
    const key = provider.toLowerCase();
    const failures = (this.#failing.get(key)?.failures ?? 0) + 1;
    const cooldownMs = Math.min(
      failureCooldownMs.first * 2 ** Math.min(failures - 1, 30),
      failureCooldownMs.max,
    );
    this.#failing.set(key, { failures, until: this.#now() + cooldownMs });
  }

  /** Records a provider's response time (exponential moving average); an answer ends its failures in a row. */
  recordLatency(provider: string, ms: number): void {
    const key = provider.toLowerCase();
    this.#failing.delete(key);
    const prev = this.#latency.get(key);
    this.#latency.set(key, prev === undefined ? ms : prev * 0.8 + ms * 0.2);
  }
}
