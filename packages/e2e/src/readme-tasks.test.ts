import { ZeroGComputeAdapter, type ZeroGError } from "@chaoschain/zerog-adapter";
import { DEFAULT_DEVNET_PROVIDERS } from "@chaoschain/zerog-devnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.js";

/**
 * The original Python adapter README's two task dictionaries, as printed there, through the
 * adapter, a bridge process and the devnet. A provider whose service record states an A100 serves
 * the README's "model-identifier"; another states an H100.
 */
let stack: Stack;
let zerog: ZeroGComputeAdapter;
beforeAll(async () => {
  stack = await startStack({
    providers: [
      ...DEFAULT_DEVNET_PROVIDERS,
      { model: "model-identifier", additionalInfo: { ProviderType: "decentralized", GPUType: "A100" } },
      { model: "model-identifier", additionalInfo: { ProviderType: "decentralized", GPUType: "H100" } },
    ],
  });
  zerog = new ZeroGComputeAdapter({ grpcUrl: stack.grpcUrl, timeoutSeconds: 60 });
});
afterAll(async () => {
  zerog?.close();
  await stack?.close();
});

describe("the original README's task dictionaries", () => {
  it("Usage: submit, status, result (wait) with output and proof", async () => {
    // task = {"task_type": "inference", "model": "llama-3-8b", "inputs": {"prompt": "What is blockchain?"}, "verification": "tee-ml"}
    const task = {
      task_type: "inference",
      model: "llama-3-8b",
      inputs: { prompt: "What is blockchain?" },
      verification: "tee-ml",
    };
    const jobId = await zerog.submit(task); // job_id = zerog.submit(task)
    expect(jobId).toMatch(/^job_/);
    const status = await zerog.status(jobId); // status = zerog.status(job_id)
    expect(["pending", "running", "completed"]).toContain(status.status); // status['status']
    const result = await zerog.result(jobId, { wait: true, timeoutS: 600 }); // wait=True, timeout_s=600
    expect(result.output).toBe("llama-3-8b (0G devnet) heard: What is blockchain?"); // result.output
    expect(result.proof.method).toBe("tee-ml"); // result.proof.method
    expect(result.proof.enclavePubkey).toMatch(/^0x04[0-9a-f]{128}$/); // result.proof.enclave_pubkey
    expect(result.proof.attestation.length).toBeGreaterThan(1000); // result.proof.attestation
    // Verified by result() under ZEROG_VERIFY_POLICY (the devnet's), with the collateral the proof embeds.
    expect(result.verification).toMatchObject({ ok: true, collateral: "embedded" });
    // The request the enclave signed is the one this task maps to (the adapter remembers what it submitted).
    expect(result.taskCheck).toBe("verified");
    expect((await zerog.status(jobId)).status).toBe("completed");
  });

  it("a result answers exactly its task: messages, parameters, extras, streamed or not, from another adapter too", async () => {
    const task = {
      task_type: "inference",
      model: "llama-3-8b",
      inputs: {
        messages: [
          { role: "system", content: "Answer in one word." },
          { role: "user", content: "Naïve question: what is 0G? 🚀" },
        ],
        parameters: { max_tokens: 32, temperature: 0.1, top_p: 0.95, stop: ["\n\n"], seed: 42 },
        extras: { user: "readme-test", presence_penalty: 0.5 },
      },
      verification: "tee-ml",
    };
    for (const stream of [false, true]) {
      const streamed = { ...task, inputs: { ...task.inputs, stream } };
      const jobId = await zerog.submit(streamed);
      expect((await zerog.result(jobId)).taskCheck).toBe("verified");
      const elsewhere = new ZeroGComputeAdapter({ grpcUrl: stack.grpcUrl, timeoutSeconds: 60 });
      try {
        expect((await elsewhere.result(jobId)).taskCheck).toBe("skipped");
        expect((await elsewhere.result(jobId, { task: streamed })).taskCheck).toBe("verified");
        const other = { ...streamed, inputs: { ...streamed.inputs, parameters: { max_tokens: 1 } } };
        const err = await elsewhere.result(jobId, { task: other }).catch((e: ZeroGError) => e);
        expect(err).toMatchObject({ code: "job_failed", failureReason: "proof_invalid" });
        expect((err as ZeroGError).shortMessage).toMatch(
          /differs from this job's task in max_tokens, seed, stop, temperature, top_p$/,
        );
      } finally {
        elsewhere.close();
      }
    }
  });

  it("Task Specification: runs on the provider whose service record states the A100", async () => {
    const task = {
      task_type: "inference", // or "training", "fine-tuning"
      model: "model-identifier",
      inputs: {
        prompt: "...",
        // ... other inputs
      },
      verification: "tee-ml", // or "zk-ml", "op-ml"
      docker_image: "optional-custom-image",
      resources: {
        gpu: "A100",
        memory: "16GB",
      },
    };
    const services = await zerog.listServices({ model: "model-identifier" });
    const a100 = services.find((s) => s.gpuType === "A100");
    expect(services.map((s) => s.gpuType).sort()).toEqual(["A100", "H100"]);
    for (let i = 0; i < 3; i++) {
      const result = await zerog.result(await zerog.submit(task));
      expect(result.output).toBe("model-identifier (0G devnet) heard: ...");
      expect(result.proof.providerAddress.toLowerCase()).toBe(a100?.providerAddress.toLowerCase());
    }
  });

  it("a GPU type no provider states is refused at submit, listing the GPU types on offer", async () => {
    const err = await zerog
      .submit({
        task_type: "inference",
        model: "model-identifier",
        inputs: { prompt: "..." },
        resources: { gpu: "B200", memory: "16GB" },
      })
      .catch((e: ZeroGError) => e);
    expect((err as ZeroGError).code).toBe("unsupported_task"); // FAILED_PRECONDITION on the wire
    expect((err as ZeroGError).shortMessage).toContain("GPU types on offer: A100, H100");
  });
});
