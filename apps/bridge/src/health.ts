import { create } from "@bufbuild/protobuf";
import {
  ComputeService,
  type Health,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "@chaoschain/zerog-core";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { quoteBounded } from "./wire/violations.js";

const known = new Set(["", ComputeService.typeName]);

/** What can keep the bridge from serving. */
export type HealthComponent = "store" | "chain";

/** The response header of a health check that says why the bridge is NOT_SERVING. */
export const notServingHeader = "zerog-not-serving";

/**
 * grpc.health.v1: SERVING while the bridge takes jobs; NOT_SERVING once it is stopping, while its
 * job store cannot be written (until a write succeeds again), and while the chain RPC does not answer.
 */
export class HealthState {
  #stopping = false;
  readonly #problems = new Map<HealthComponent, string>();
  readonly #waiters = new Set<() => void>();

  get serving(): boolean {
    return !this.#stopping && this.#problems.size === 0;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Why the bridge is not serving, one line (empty while it serves). */
  get reasons(): string {
    return [...(this.#stopping ? ["stopping"] : []), ...this.#problems.values()].join("; ");
  }

  /** Whether `component` lets the bridge serve. */
  ok(component: HealthComponent): boolean {
    return !this.#problems.has(component);
  }

  setNotServing(): void {
    this.#stopping = true;
    this.#changed();
  }

  /** A component fails (the reason), or works again (undefined). */
  setProblem(component: HealthComponent, reason: string | undefined): void {
    if (this.#problems.get(component) === reason) return;
    if (reason === undefined) this.#problems.delete(component);
    else this.#problems.set(component, reason);
    this.#changed();
  }

  /** The job store cannot be written (the reason), or can again (undefined). */
  setStorageProblem(reason: string | undefined): void {
    this.setProblem("store", reason);
  }

  #changed(): void {
    for (const wake of this.#waiters) wake();
  }

  changed(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#waiters.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener("abort", done);
    });
  }
}

export function createHealthService(state: HealthState): ServiceImpl<typeof Health> {
  const status = (service: string) =>
    create(HealthCheckResponseSchema, {
      status: !known.has(service)
        ? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN
        : state.serving
          ? HealthCheckResponse_ServingStatus.SERVING
          : HealthCheckResponse_ServingStatus.NOT_SERVING,
    });
  return {
    async check(req, ctx) {
      if (!known.has(req.service))
        throw new ConnectError(`unknown service ${quoteBounded(req.service)}`, Code.NotFound);
      // Why not, for operators (grpcurl -v, zerog-bridge health): header values are one line of ASCII.
      const reasons = state.reasons;
      if (reasons)
        ctx.responseHeader.set(notServingHeader, reasons.replace(/[^\x20-\x7e]/g, "?").slice(0, 1024));
      return status(req.service);
    },
    async *watch(req, ctx) {
      let last = status(req.service);
      yield last;
      while (!ctx.signal.aborted) {
        await state.changed(ctx.signal);
        const now = status(req.service);
        if (ctx.signal.aborted || now.status === last.status) continue;
        last = now;
        yield now;
      }
    },
  };
}
