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

/**
 * grpc.health.v1: SERVING while the bridge takes jobs; NOT_SERVING once it is stopping, and while its
 * job store cannot be written (until a write succeeds again).
 */
export class HealthState {
  #stopping = false;
  #storageProblem: string | undefined;
  readonly #waiters = new Set<() => void>();

  get serving(): boolean {
    return !this.#stopping && this.#storageProblem === undefined;
  }

  setNotServing(): void {
    this.#stopping = true;
    this.#changed();
  }

  /** The job store cannot be written (the reason), or can again (undefined). */
  setStorageProblem(reason: string | undefined): void {
    this.#storageProblem = reason;
    this.#changed();
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
    async check(req) {
      if (!known.has(req.service))
        throw new ConnectError(`unknown service ${quoteBounded(req.service)}`, Code.NotFound);
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
