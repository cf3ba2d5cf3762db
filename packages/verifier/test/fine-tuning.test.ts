import { createEnclaveKey } from "@chaoschain/zerog-tee-sim";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { describe, expect, it } from "vitest";
import {
  CHECK_NAMES,
  type FineTuningDeliveryInput,
  fineTuningSettlementDigest,
  verifyProof,
} from "../src/index.js";
import {
  enclave,
  type Fixture,
  hex,
  makeFineTuningFixture,
  makeFixture,
  NOW,
  signDigest,
  toProtoJson,
} from "./fixtures.js";

const verify = (fx: Fixture, policy = fx.policy) =>
  verifyProof(fx.result, { now: NOW, collateral: fx.collateral, policy });
const delivery = (fx: Fixture) =>
  fx.result.proof.fineTuning as Required<FineTuningDeliveryInput> & Record<string, unknown>;
const statusOf = (r: Awaited<ReturnType<typeof verify>>) =>
  Object.fromEntries(
    r.checks.map((c) => [
      c.name,
      c.status === "fail" ? `fail ${c.reason}` : c.status === "skipped" ? `skipped ${c.skipReason}` : "pass",
    ]),
  );

describe("verifyProof on a fine-tuning proof", () => {
  it("checks the delivery, its TEE signatures and the attestation; says what it cannot check offline", async () => {
    const fx = makeFineTuningFixture();
    const r = await verify(fx);
    expect(r.ok).toBe(true);
    expect(r.signer).toBe(enclave.address);
    expect(statusOf(r)).toMatchObject({
      "proof.format": "pass",
      "fine_tuning.delivery": "pass",
      "fine_tuning.tag_signature": "pass",
      "fine_tuning.settlement_signature": "pass",
      "fine_tuning.artifact": "skipped not_checkable_offline",
      "result.output": "pass",
      "quote.signature_chain": "pass",
      "tee.report_data": "pass",
      "tee.workload": "pass",
      "gpu.evidence": "pass",
      freshness: "skipped not_applicable",
    });
    // No response steps: a fine-tuning task has no signed exchange.
    expect(r.checks.map((c) => c.name)).toEqual(CHECK_NAMES.filter((n) => !n.startsWith("response.")));
    expect(r.skipped).toEqual(["fine_tuning.artifact", "freshness"]);
    expect(r.checks.find((c) => c.name === "fine_tuning.artifact")?.message).toMatch(
      /needs the encrypted model and the wallet key, which a proof does not carry/,
    );
  });

  it.each(["camel", "snake"] as const)("accepts the proto3 JSON form (%s case)", async (style) => {
    const fx = makeFineTuningFixture();
    const json = JSON.parse(JSON.stringify(toProtoJson(fx.result, style)));
    const r = await verifyProof(json, { now: NOW, collateral: fx.collateral, policy: fx.policy });
    expect(r.reason).toBeUndefined();
    expect(r.ok).toBe(true);
  });

  it("an inference proof has no fine-tuning steps", async () => {
    const r = await verify(makeFixture());
    expect(r.checks.some((c) => c.name.startsWith("fine_tuning."))).toBe(false);
  });

  it("without a settlement signature: skipped (not required), and a strict policy refuses it", async () => {
    const fx = makeFineTuningFixture({ settlement: false });
    const r = await verify(fx);
    expect(r.ok).toBe(true);
    expect(statusOf(r)["fine_tuning.settlement_signature"]).toBe("skipped not_required");
    const strict = await verify(fx, { ...fx.policy, strict: true });
    expect(strict.ok).toBe(false);
    expect(strict.reason).toBe("check_skipped");
  });

  it("a policy requiring a chat step refuses a fine-tuning proof, which has none (and the reverse)", async () => {
    const fx = makeFineTuningFixture();
    const r = await verify(fx, { ...fx.policy, requiredChecks: ["response.signature"] });
    expect(r.ok).toBe(false);
    expect(r.checks.find((c) => c.name === "response.signature")).toMatchObject({
      status: "fail",
      reason: "check_skipped",
    });
    const chat = makeFixture();
    const c = await verify(chat, { ...chat.policy, requiredChecks: ["fine_tuning.tag_signature"] });
    expect(c.ok).toBe(false);
    expect(c.reason).toBe("check_skipped");
  });

  it("reports no output or signed time from chat bodies nobody checked", async () => {
    const fx = makeFineTuningFixture();
    const chat = makeFixture().result.proof;
    fx.result.proof.requestBody = chat.requestBody;
    fx.result.proof.responseBody = new TextEncoder().encode(
      '{"created":4102444800,"choices":[{"index":0,"message":{"content":"unsigned"}}]}',
    );
    const r = await verify(fx);
    expect(r.ok).toBe(true);
    expect(r.output).toBeUndefined();
    expect(r.signedTime).toBeUndefined();
  });

  describe("attacks", () => {
    const failing = async (mutate: (fx: Fixture) => void) => {
      const fx = makeFineTuningFixture();
      mutate(fx);
      const r = await verify(fx);
      return { ok: r.ok, reason: r.reason, message: r.message, status: statusOf(r) };
    };
    const attacker = createEnclaveKey({ seed: "attacker" });

    it("tags signed by another key, or changed after signing", async () => {
      expect(
        await failing((fx) => {
          delivery(fx).tagSignature = signDigest(attacker, keccak_256(delivery(fx).tags as Uint8Array), 0);
          fx.result.proof.signature = `0x${hex(delivery(fx).tagSignature as Uint8Array)}`;
        }),
      ).toMatchObject({
        ok: false,
        reason: "tag_signature_invalid",
        message: expect.stringMatching(`recovers to ${attacker.address}`),
      });
      expect(
        await failing((fx) => {
          const tags = Uint8Array.from(delivery(fx).tags as Uint8Array);
          tags[0] = (tags[0] ?? 0) ^ 1;
          delivery(fx).tags = tags;
        }),
      ).toMatchObject({ ok: false, reason: "tag_signature_invalid" });
    });

    it("an attacker's own key in enclave_address: its signatures verify, but the quote does not bind it", async () => {
      const fx = makeFineTuningFixture({ key: attacker });
      fx.result.proof.enclaveAddress = attacker.address;
      const r = await verify(fx);
      expect(statusOf(r)).toMatchObject({
        "fine_tuning.tag_signature": "pass",
        "fine_tuning.settlement_signature": "pass",
        "tee.report_data": "fail report_data_mismatch",
      });
      expect(r.ok).toBe(false);
    });

    it("a different model root hash, encrypted key, fee, user, chain or contract than the enclave settled", async () => {
      const swaps: Array<(d: ReturnType<typeof delivery>, fx: Fixture) => void> = [
        (d) => {
          d.modelRootHash = new Uint8Array(32).fill(9);
        },
        (d) => {
          d.encryptedSecret = new Uint8Array(129).fill(4);
        },
        (d) => {
          d.taskFeeNeuron = "1";
        },
        (d) => {
          d.userAddress = "0x3333333333333333333333333333333333333333";
        },
        (_, fx) => {
          fx.result.proof.chainId = 16661n;
        },
        (d) => {
          d.fineTuningContract = "0x4e3474095518883744ddf135b7E0A23301c7F9c0";
        },
      ];
      for (const swap of swaps) {
        const r = await failing((fx) => swap(delivery(fx), fx));
        expect(r).toMatchObject({ ok: false, reason: "settlement_signature_invalid" });
      }
    });

    it("sizes, hashes and fields that do not fit together", async () => {
      type Mutation = (d: ReturnType<typeof delivery>, fx: Fixture) => void;
      const cases: Array<[Mutation, RegExp]> = [
        [
          (d) => Object.assign(d, { artifactSize: 999n }),
          /artifact_size 999 is not the encrypted model's plaintext size 1000/,
        ],
        [(d) => Object.assign(d, { encryptedSize: 77n + 16n }), /does not hold 1 chunk/],
        [(d) => Object.assign(d, { tags: new Uint8Array(15) }), /tags is 15 bytes/],
        [(d) => Object.assign(d, { taskId: "not-a-uuid" }), /task_id is not a UUID/],
        [
          (_, fx) => Object.assign(fx.result.proof, { chatId: "6f1c2d3e-4a5b-4c6d-8e9f-000000000000" }),
          /chat_id is not the task id/,
        ],
        [
          (_, fx) => Object.assign(fx.result.proof, { executionHash: "00".repeat(32) }),
          /execution_hash is not artifact_sha256/,
        ],
        [
          (_, fx) => Object.assign(fx.result.proof, { signature: `0x${"11".repeat(65)}` }),
          /signature is not the tag signature/,
        ],
        [(d) => Object.assign(d, { encryptedSecret: new Uint8Array(64) }), /encrypted_secret is 64 bytes/],
        [(d) => Object.assign(d, { modelRootHash: new Uint8Array(20) }), /model_root_hash is 20 bytes/],
        [(d) => Object.assign(d, { settlementNonce: "-1" }), /must be decimal integers/],
      ];
      for (const [mutate, message] of cases) {
        const r = await failing((fx) => mutate(delivery(fx), fx));
        expect(r.status["fine_tuning.delivery"]).toBe("fail delivery_inconsistent");
        expect(r.message).toMatch(message);
      }
    });

    it("an output that does not name the delivered model", async () => {
      for (const output of [
        "not json",
        "{}",
        JSON.stringify({ path: "/x", sha256: "00".repeat(32), size: 1000 }),
      ]) {
        const r = await failing((fx) => {
          fx.result.output = output;
        });
        expect(r).toMatchObject({ ok: false, reason: "output_mismatch" });
      }
    });

    it("the one gap: the decrypted model itself is not checkable offline, and the report says so", async () => {
      // A consistent swap of the artifact's hash (output, execution_hash, artifact_sha256) passes every step
      // a verifier can run; fine_tuning.artifact names what it could not check.
      const r = await failing((fx) => {
        const other = "ab".repeat(32);
        delivery(fx).artifactSha256 = other;
        fx.result.proof.executionHash = other;
        fx.result.output = JSON.stringify({ path: "/x", sha256: other, size: 1000 });
      });
      expect(r.ok).toBe(true);
      expect(r.status["fine_tuning.artifact"]).toBe("skipped not_checkable_offline");
    });

    it("malformed deliveries are proof_malformed or input_too_large, never a throw", async () => {
      const set = (patch: Record<string, unknown>) => (fx: Fixture) => Object.assign(delivery(fx), patch);
      expect(await failing((fx) => Object.assign(fx.result.proof, { fineTuning: "x" }))).toMatchObject({
        reason: "proof_malformed",
      });
      expect(await failing(set({ tags: "!!not base64!!" }))).toMatchObject({ reason: "proof_malformed" });
      expect(await failing(set({ encryptedSize: "lots" }))).toMatchObject({ reason: "proof_malformed" });
      expect(await failing(set({ tags: new Uint8Array(65 * 1024) }))).toMatchObject({
        reason: "input_too_large",
      });
      expect(await failing(set({ taskFeeNeuron: "9".repeat(100) }))).toMatchObject({
        ok: false,
        reason: "delivery_inconsistent",
      });
    });
  });
});

describe("fineTuningSettlementDigest", () => {
  it("matches ethers' EIP-712 encoder (TypedDataEncoder.hash) on a fixed vector", () => {
    const digest = fineTuningSettlementDigest({
      chainId: 16602n,
      fineTuningContract: "0xC6C075D8039763C8f1EbE580be5ADdf2fd6941bA",
      id: "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
      encryptedSecret: new Uint8Array(129).fill(0x11),
      modelRootHash: new Uint8Array(32).fill(0x22),
      nonce: 17000000000000040n,
      taskFee: 123456789n,
      user: "0x1111111111111111111111111111111111111111",
    });
    expect(hex(digest)).toBe("9a118a94b56065dbee2724c5881d3c78f6258093d1fdc53ff3cbcc4972fe948d");
  });
});
