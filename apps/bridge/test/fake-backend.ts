import { create } from "@bufbuild/protobuf";
import { ComputeProofSchema, ServiceSchema, UsageSchema, VerificationMethod } from "@chaoschain/zerog-core";
import type { BackendJobResult, ComputeBackend, RunContext } from "../src/backend.js";

/**
 * A backend whose jobs end when the test says so, for fast tests of the worker and the services in
 * memory; the real 0G backend is tested end to end against the devnet in test/.
 */
export function controllableBackend() {
  const pending = new Map<string, { resolve: (r: BackendJobResult) => void; reject: (e: Error) => void }>();
  const contexts = new Map<string, RunContext>();
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
    run: (_task, ctx) =>
      new Promise((resolve, reject) => {
        started.push(ctx.jobId);
        contexts.set(ctx.jobId, ctx);
        ctx.progress({ provider: "0x1111111111111111111111111111111111111111" });
        pending.set(ctx.jobId, { resolve, reject });
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
      }),
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
      contexts.get(id)?.outputDelta(delta);
    },
    /** The run context of a started job (progress, checkpoints, what it resumes from). */
    context(id: string): RunContext | undefined {
      return contexts.get(id);
    },
    /** Makes `check` refuse every task with `reason` (undefined: accept). */
    refuse(reason: string | undefined) {
      refusal = reason;
    },
  };
}
