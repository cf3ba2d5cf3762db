import { create } from "@bufbuild/protobuf";
import {
  type BackendJobResult,
  type BackendSubmitOptions,
  type ComputeBackend,
  ComputeProofSchema,
  ServiceSchema,
  UsageSchema,
  VerificationMethod,
} from "@chaoschain/zerog-core";

/**
 * A backend whose jobs end when the test says so, for fast tests of the worker and the services in
 * memory; the real 0G backend is tested end to end against the devnet in test/.
 */
export function controllableBackend() {
  const pending = new Map<string, { resolve: (r: BackendJobResult) => void; reject: (e: Error) => void }>();
  const events = new Map<string, BackendSubmitOptions>();
  const started: string[] = [];
  let refusal: string | undefined;
  const backend: ComputeBackend = {
    name: "controllable",
    listServices: async (filter) =>
      [
        create(ServiceSchema, {
          model: "llama-3-8b",
          verifiability: VerificationMethod.TEE_ML,
          providerAddress: "0x1111111111111111111111111111111111111111",
        }),
      ].filter(
        (s) =>
          (!filter?.model || s.model === filter.model) &&
          (!filter?.verification || s.verifiability === filter.verification),
      ),
    check: async () => refusal,
    submit: async (_task, options) => {
      started.push(options.jobId);
      events.set(options.jobId, options);
      options.onProvider?.("0x1111111111111111111111111111111111111111");
      return options.jobId;
    },
    status: async () => ({ state: "unknown" }),
    result: (ref, { signal }) =>
      new Promise((resolve, reject) => {
        pending.set(ref, { resolve, reject });
        signal.addEventListener("abort", () => reject(new Error("aborted")));
      }),
    cancel: async () => {},
    close: async () => {},
  };
  return {
    backend,
    /** Job ids the backend was asked to run, in order. */
    started,
    /** Ends a started job with the output `done <id>`. */
    finish(id: string) {
      pending.get(id)?.resolve({
        output: `done ${id}`,
        proof: create(ComputeProofSchema, { method: "tee-ml" }),
        usage: create(UsageSchema, { totalTokens: 3n }),
        providerAddress: "0x1111111111111111111111111111111111111111",
      });
    },
    failWith(id: string, err: Error) {
      pending.get(id)?.reject(err);
    },
    /** Streams output text of a started job. */
    stream(id: string, delta: string) {
      events.get(id)?.onOutputDelta?.(delta);
    },
    /** Makes `check` refuse every task with `reason` (undefined: accept). */
    refuse(reason: string | undefined) {
      refusal = reason;
    },
  };
}
