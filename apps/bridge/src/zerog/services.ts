import { create } from "@bufbuild/protobuf";
import {
  type ComputeTask,
  type Service,
  type ServiceFilter,
  ServiceSchema,
  VerificationMethod,
  verificationFromName,
  verificationName,
  ZeroGError,
} from "@chaoschain/zerog-core";
import { PromiseCache } from "./promise-cache.js";
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

function parseInfo(json: string): Record<string, unknown> {
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The services registered in the 0G inference contract (TEE signer acknowledged only), cached for
 * `ttlMs`, with the latency this bridge has seen from each provider.
 */
export class ServiceDirectory {
  readonly #broker: ZeroGBroker;
  readonly #records: PromiseCache<"all", ServiceRecord[]>;
  readonly #latency = new Map<string, number>();

  constructor(broker: ZeroGBroker, ttlMs: number) {
    this.#broker = broker;
    this.#records = new PromiseCache(ttlMs);
  }

  records(): Promise<ServiceRecord[]> {
    return this.#records.get("all", () =>
      this.#load().catch((err: unknown) => {
        throw new ZeroGError("chain_unavailable", "could not read the 0G service registry from the chain", {
          cause: err,
        });
      }),
    );
  }

  async #load(): Promise<ServiceRecord[]> {
    const records: ServiceRecord[] = [];
    const page = 50; // the contract's largest page (LimitTooLarge above it)
    for (let offset = 0; ; offset += page) {
      const batch = await this.#broker.inference.listService(offset, page, false);
      for (const s of batch) {
        records.push({
          provider: s.provider,
          serviceType: s.serviceType,
          url: s.url.replace(/\/+$/, ""),
          model: s.model,
          verifiability: verificationFromName(s.verifiability) ?? VerificationMethod.UNSPECIFIED,
          inputPrice: s.inputPrice,
          outputPrice: s.outputPrice,
          teeSignerAddress: s.teeSignerAddress,
          teeSignerAcknowledged: s.teeSignerAcknowledged,
          additionalInfo: parseInfo(s.additionalInfo),
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
          (!filter.verification || r.verifiability === filter.verification),
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
        }),
      );
  }

  /**
   * Chat services able to run `task`, best first: the pinned provider only when the task pins one;
   * otherwise cheapest first, then lowest latency seen.
   */
  async candidates(task: ComputeTask): Promise<ServiceRecord[]> {
    const pin = task.providerAddress.toLowerCase();
    const cost = (r: ServiceRecord) => r.inputPrice + r.outputPrice;
    return (await this.records())
      .filter(
        (r) =>
          r.serviceType === "chatbot" &&
          r.model === task.model &&
          r.verifiability === task.verification &&
          (pin === "" || r.provider.toLowerCase() === pin),
      )
      .sort((a, b) => {
        const byCost = cost(a) - cost(b);
        if (byCost !== 0n) return byCost < 0n ? -1 : 1;
        return (
          (this.#latency.get(a.provider.toLowerCase()) ?? 0) -
          (this.#latency.get(b.provider.toLowerCase()) ?? 0)
        );
      });
  }

  /** Why no service can run `task`, naming what is on offer; undefined when one can. */
  async refusal(task: ComputeTask): Promise<string | undefined> {
    if ((await this.candidates(task)).length > 0) return undefined;
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

  /** Records a provider's response time (exponential moving average). */
  recordLatency(provider: string, ms: number): void {
    const key = provider.toLowerCase();
    const prev = this.#latency.get(key);
    this.#latency.set(key, prev === undefined ? ms : prev * 0.8 + ms * 0.2);
  }
}
