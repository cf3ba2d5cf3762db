import { createEnclaveKey, runtimeEvent } from "@chaoschain/zerog-tee-sim";
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import {
  CHECK_NAMES,
  type CheckName,
  createVerificationCache,
  runtimeEventDigest,
  type VerifyProofReturnType,
  verifyProof,
} from "../src/index.js";
import { enclave, hex, makeFixture, NOW, resign, toProtoJson } from "./fixtures.js";

const checkOf = (r: VerifyProofReturnType, name: CheckName) => r.checks.find((c) => c.name === name);

/** Each of `names` was skipped because `by` did not pass. */
/** DER bytes with the last byte (a CRL's signature ends there) changed. */
function withLastByteFlipped(der: string | number[] | Uint8Array): Uint8Array {
  const bytes = typeof der === "string" ? Buffer.from(der.replace(/^0x/, ""), "hex") : Uint8Array.from(der);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
  return bytes;
}

function expectBlocked(r: VerifyProofReturnType, names: readonly CheckName[], by: CheckName) {
  for (const name of names)
    expect(checkOf(r, name)).toMatchObject({
      status: "skipped",
      skipReason: "dependency_failed",
      details: { dependsOn: by },
    });
}

/** A TD that extended a compose-hash after system-ready, its log entry rewritten by `edit`: refused. */
async function expectLateComposeHashRefused(
  payload: Uint8Array,
  edit: (entry: Record<string, unknown>) => void,
) {
  const f = makeFixture({
    attestation: { editEvents: (ev) => [...ev, runtimeEvent("compose-hash", payload)] },
  });
  const tee = f.result.proof.tee as { eventLog: string };
  const log = JSON.parse(tee.eventLog) as Array<Record<string, unknown>>;
  const last = log[log.length - 1] as Record<string, unknown>;
  expect(last.event).toBe("compose-hash");
  edit(last);
  tee.eventLog = JSON.stringify(log);
  const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
  expect(r.ok).toBe(false);
  expect(checkOf(r, "tee.event_log")).toMatchObject({ status: "fail", reason: "event_log_invalid" });
}

describe("verifyProof on a synthetic dstack provider (test root CA)", () => {
  const fx = makeFixture();
  it("accepts a valid ComputeResult and explains every step", async () => {
    const r = await verifyProof(fx.result, { now: NOW, collateral: fx.collateral, policy: fx.policy });
    expect(r.checks.filter((c) => c.status !== "pass")).toEqual([]);
    expect(r).toMatchObject({
      ok: true,
      skipped: [],
      warnings: [],
      tcbStatus: "UpToDate",
      collateral: "given",
    });
    expect(r.reportDataBinding).toBe("address-ascii");
    expect(r.composeHash).toBe(fx.att.composeHash);
    expect(r.output).toBe("The answer is 42.");
    expect(r.signedTime).toBe(NOW - 10);
    expect(r.checks.map((c) => c.name)).toEqual(CHECK_NAMES.filter((n) => !n.startsWith("fine_tuning.")));
  });
  it.each(["camel", "snake"] as const)("accepts the proto3 JSON form (%s case)", async (style) => {
    const json = JSON.parse(JSON.stringify(toProtoJson(fx.result, style)));
    const r = await verifyProof(json, { now: NOW, collateral: fx.collateral, policy: fx.policy });
    expect(r.reason).toBeUndefined();
    expect(r.ok).toBe(true);
  });
  it("accepts a bare proof (no output claim) and still reports the signed output", async () => {
    const r = await verifyProof(fx.result.proof, { now: NOW, collateral: fx.collateral, policy: fx.policy });
    expect(r.ok).toBe(true);
    expect(r.checks.some((c) => c.name === "result.output")).toBe(false);
    expect(r.output).toBe("The answer is 42.");
  });
  it("accepts a v5 quote and the enc-pub-v1 binding", async () => {
    const enc = new Uint8Array(32).fill(7);
    const f = makeFixture({ attestation: { binding: "enc-pub-v1", encPubkey: enc, quote: { version: 5 } } });
    const tee = f.result.proof.tee as Record<string, unknown>;
    tee.reportDataBinding = 2;
    tee.encPubkey = enc;
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.reason).toBeUndefined();
    expect(r.reportDataBinding).toBe("enc-pub-v1");
    expect(r.quote?.version).toBe(5);
  });
  it("uses the cache for repeated proofs from one provider and re-checks time", async () => {
    const cache = createVerificationCache();
    const a = await verifyProof(fx.result, { now: NOW, collateral: fx.collateral, policy: fx.policy, cache });
    const b = await verifyProof(fx.result, {
      now: NOW + 60,
      collateral: fx.collateral,
      policy: fx.policy,
      cache,
    });
    expect(a.ok && b.ok).toBe(true);
    expect(a.checks.find((c) => c.name === "quote.signature_chain")?.details?.cached).toBe(false);
    expect(b.checks.find((c) => c.name === "quote.signature_chain")?.details?.cached).toBe(true);
    const late = await verifyProof(fx.result, {
      now: NOW + 40 * 86400,
      collateral: fx.collateral,
      policy: { ...fx.policy, maxAgeSeconds: 1e8 },
      cache,
    });
    expect(late.reason).toBe("collateral_expired");
  });
  it("a cached NRAS token expires at the very second a fresh check says it does", async () => {
    const exp = NOW + 3600; // the simulator's token lives an hour
    const at = (now: number, cache?: ReturnType<typeof createVerificationCache>) =>
      verifyProof(fx.result, { now, collateral: fx.collateral, policy: fx.policy, cache });
    const gpu = (r: Awaited<ReturnType<typeof at>>) => r.checks.find((c) => c.name === "gpu.evidence");
    const cache = createVerificationCache();
    expect(gpu(await at(exp + 59, cache))?.status).toBe("pass");
    expect(gpu(await at(exp + 60))).toMatchObject({ status: "fail", reason: "gpu_token_invalid" });
    expect(gpu(await at(exp + 60, cache))).toMatchObject({ status: "fail", reason: "gpu_token_invalid" });
  });
});

describe("honest reports", () => {
  it("lists what an unpinned policy did not check, and passes unless strict", async () => {
    const f = makeFixture({ gpu: false });
    const policy = { tee: { rootCaDer: f.policy.tee?.rootCaDer } };
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy });
    expect(r.ok).toBe(true);
    expect(r.skipped).toEqual(["tee.measurements", "tee.workload", "gpu.evidence"]);
    expect(r.checks.find((c) => c.name === "tee.measurements")?.skipReason).toBe("not_pinned");
    const strict = await verifyProof(f.result, {
      now: NOW,
      collateral: f.collateral,
      policy: { ...policy, strict: true },
    });
    expect(strict.reason).toBe("check_skipped");
    expect(strict.skipped).toEqual([]);
    const required = await verifyProof(f.result, {
      now: NOW,
      collateral: f.collateral,
      policy: { ...policy, requiredChecks: ["tee.workload"] },
    });
    expect(required.checks.find((c) => c.name === "tee.workload")).toMatchObject({
      status: "fail",
      reason: "check_skipped",
    });
    expect(required.skipped).toEqual(["tee.measurements", "gpu.evidence"]);
  });
  it("reports an optional claim the proof does not make as skipped, not as passed", async () => {
    const f = makeFixture({ gpu: false });
    const proof = f.result.proof as Record<string, unknown> & { tee: Record<string, unknown> };
    for (const field of ["requestHash", "responseHash", "executionHash", "enclavePubkey"]) proof[field] = "";
    proof.tee.teeType = "";
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.ok).toBe(true);
    const unclaimed = [
      "response.hashes",
      "response.enclave_pubkey",
      "response.execution_hash",
      "tee.type",
    ] as const;
    for (const name of unclaimed)
      expect(checkOf(r, name), name).toMatchObject({ status: "skipped", skipReason: "not_required" });
    expect(r.skipped).toEqual(expect.arrayContaining([...unclaimed]));
    const strict = await verifyProof(f.result, {
      now: NOW,
      collateral: f.collateral,
      policy: { ...f.policy, strict: true },
    });
    expect(strict).toMatchObject({ ok: false, reason: "check_skipped" });
    // One hash claimed is compared, and passes: the check ran.
    proof.requestHash = hex(sha256(proof.requestBody as Uint8Array));
    const one = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(checkOf(one, "response.hashes")).toMatchObject({ status: "pass" });
  });

  it("reports docker digests pinned without MRTD and RTMR0-2 as weak", async () => {
    const f = makeFixture();
    const policy = { ...f.policy, tee: { rootCaDer: f.policy.tee?.rootCaDer, mrtd: f.policy.tee?.mrtd } };
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy });
    expect(r.ok).toBe(true);
    expect(r.warnings.map((w) => w.code)).toEqual(["weak_workload_pin"]);
    expect(r.checks.find((c) => c.name === "tee.workload")?.details?.weak).toBe(true);
  });
  it("skips present GPU evidence only on an explicit gpu.ignore", async () => {
    const f = makeFixture();
    const r = await verifyProof(f.result, {
      now: NOW,
      collateral: f.collateral,
      policy: { ...f.policy, gpu: { ignore: true } },
    });
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.name === "gpu.evidence")).toMatchObject({
      status: "skipped",
      skipReason: "ignored_by_policy",
    });
  });
  it("freshness without a signed time is skipped, and said to be unsigned, when not required", async () => {
    const f = makeFixture({ created: null });
    const r = await verifyProof(f.result, {
      now: NOW,
      collateral: f.collateral,
      policy: { ...f.policy, requireFreshness: false },
    });
    expect(r.ok).toBe(true);
    expect(r.checks.find((c) => c.name === "freshness")?.message).toMatch(/unsigned timestamp says 30 s old/);
  });
  it("never passes a TEE step on a quote whose signature does not verify (the forger chose its fields)", async () => {
    const f = makeFixture();
    const quote = (f.result.proof.attestation as Uint8Array).slice();
    // v4 TDX quote: header 48 + TD report 584 + signature data length 4, then the ECDSA signature
    const at = 48 + 584 + 4 + 10;
    quote[at] = (quote[at] as number) ^ 1;
    f.result.proof.attestation = quote;
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.ok).toBe(false);
    expect(r.checks.find((c) => c.name === "quote.signature_chain")?.status).toBe("fail");
    const teeSteps = CHECK_NAMES.filter((n) => n.startsWith("tee."));
    expect(teeSteps).toHaveLength(6);
    expectBlocked(r, teeSteps, "quote.signature_chain");
    // Nor does the quote's header pass: its TEE type and QE vendor are the forger's claim too.
    expectBlocked(r, ["quote.tee_type", "quote.qe_vendor_id"], "quote.signature_chain");
    expect(r.reportDataBinding).toBeUndefined();
    expect(r.composeHash).toBeUndefined();
  });
  it("a header not allowed fails, whether or not the quote's signature verifies", async () => {
    const f = makeFixture();
    const quote = (f.result.proof.attestation as Uint8Array).slice();
    quote[48 + 584 + 4 + 10] = (quote[48 + 584 + 4 + 10] as number) ^ 1;
    f.result.proof.attestation = quote;
    const r = await verifyProof(f.result, {
      now: NOW,
      collateral: f.collateral,
      policy: { ...f.policy, tee: { ...f.policy.tee, allowedTeeTypes: ["sgx"] } },
    });
    expect(r.checks.find((c) => c.name === "quote.tee_type")).toMatchObject({
      status: "fail",
      reason: "tee_type_not_allowed",
    });
  });
  it("never passes the collateral's dates when its integrity did not verify (the forger chose them)", async () => {
    const f = makeFixture();
    const r = await verifyProof(f.result, {
      now: NOW,
      collateral: { ...f.collateral, pck_crl: withLastByteFlipped(f.collateral.pck_crl) },
      policy: f.policy,
    });
    expect(r.ok).toBe(false);
    expect(r.checks.find((c) => c.name === "collateral.integrity")?.status).toBe("fail");
    expectBlocked(r, ["collateral.validity"], "collateral.integrity");
  });
  it("a proof carrying a field in both spellings is malformed: a snake_case reader would see other bytes", async () => {
    const f = makeFixture();
    const json = toProtoJson(f.result) as { proof: Record<string, unknown> };
    json.proof.response_body = Buffer.from(
      '{"choices":[{"index":0,"message":{"content":"forged"}}]}',
    ).toString("base64");
    const r = await verifyProof(json as never, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.ok).toBe(false);
    expect(r.checks[0]).toMatchObject({ status: "fail", reason: "proof_malformed" });
    expect(r.checks[0]?.details?.field).toBe("proof.response_body");
  });
  it("reads no output or time from a response whose signature does not verify", async () => {
    const f = makeFixture();
    const body = new TextEncoder().encode(
      '{"created":4102444800,"choices":[{"index":0,"message":{"content":"forged"}}]}',
    );
    resign(f, body, createEnclaveKey({ seed: "not the enclave" }));
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.checks.find((c) => c.name === "response.signature")?.status).toBe("fail");
    expectBlocked(r, ["result.output", "freshness"], "response.signature");
    expect(r.output).toBeUndefined();
    expect(r.signedTime).toBeUndefined();
  });
  it("a late compose-hash cannot hide by moving the name/payload colon (v1 digests join them with ':')", async () => {
    // the same digest input "compose-hash" ":" ":0707…" read as "compose-hash:" ":" "0707…"
    await expectLateComposeHashRefused(Uint8Array.of(0x3a, ...new Uint8Array(32).fill(7)), (entry) => {
      entry.event = "compose-hash:";
      entry.event_payload = (entry.event_payload as string).slice(2);
    });
  });
  it("a late compose-hash cannot hide as an RTMR3 event of another type with its digest stated", async () => {
    const payload = new Uint8Array(32).fill(7);
    await expectLateComposeHashRefused(payload, (entry) => {
      entry.event_type = 1;
      entry.digest = hex(runtimeEventDigest("compose-hash", payload));
    });
  });
  it("a result whose proof or output has the wrong type is an invalid proof, not an exception", async () => {
    const f = makeFixture();
    for (const [input, field] of [
      [{ output: "x", proof: "x" }, "result.proof"],
      [{ output: 5, proof: f.result.proof }, "result.output"],
    ] as const) {
      const r = await verifyProof(input as never, { now: NOW, collateral: f.collateral, policy: f.policy });
      expect(r.ok).toBe(false);
      expect(r.checks[0]).toMatchObject({ name: "proof.format", status: "fail", reason: "proof_malformed" });
      expect(r.checks[0]?.details?.field).toBe(field);
    }
  });
});

describe("accepted forms", () => {
  it.each([
    ["65 bytes (0x04…)", (k: string) => k],
    ["64 bytes (x ‖ y)", (k: string) => `0x${k.slice(4)}`],
    ["33 bytes (compressed)", (k: string) => `0x${hex(secp256k1.Point.fromHex(k.slice(2)).toBytes(true))}`],
  ])("enclave_pubkey as %s", async (_, form) => {
    const f = makeFixture();
    f.result.proof.enclavePubkey = form(enclave.publicKey);
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.reason).toBeUndefined();
  });
  it("application events after system-ready still replay (real dstack logs have them)", async () => {
    const f = makeFixture({
      attestation: { editEvents: (ev) => [...ev, runtimeEvent("image-digest", utf8ToBytes("sha256:abc"))] },
    });
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.reason).toBeUndefined();
  });
  it.each(["\r", "\n", "\r\n"])("an SSE stream with %j line ends", async (eol) => {
    const chunk = (index: number, content: string) =>
      `data: ${JSON.stringify({ object: "chat.completion.chunk", created: NOW - 10, choices: [{ index, delta: { content } }] })}${eol}${eol}`;
    const body = `${chunk(0, "Hel")}${chunk(1, "other")}: comment${eol}${chunk(0, "lo")}data: [DONE]${eol}${eol}`;
    const f = resign(makeFixture(), utf8ToBytes(body));
    f.result.output = "Hello";
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.reason).toBeUndefined();
  });
  it("an SGX enclave with SGX pins, when the policy allows SGX", async () => {
    const f = makeFixture({ sgx: { isvProdId: 3, isvSvn: 5 } });
    const r = await verifyProof(f.result, { now: NOW, collateral: f.collateral, policy: f.policy });
    expect(r.reason).toBeUndefined();
    expect(r.checks.find((c) => c.name === "tee.measurements")?.details?.pinned).toEqual([
      "mrEnclave",
      "mrSigner",
      "isvProdIds",
      "minIsvSvn",
    ]);
    expect(r.skipped).toEqual([
      "quote.tdx_module",
      "tee.event_log",
      "tee.compose_hash",
      "tee.workload",
      "gpu.evidence",
    ]);
  });
});

describe("collateral embedded in the proof (tee.collateral)", () => {
  const embed = (f: ReturnType<typeof makeFixture>, c = f.collateral) => {
    const bytes = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
    (f.result.proof.tee as Record<string, unknown>).collateral = {
      ...c,
      rootCaCrl: bytes(c.root_ca_crl),
      pckCrl: bytes(c.pck_crl),
      tcbInfoSignature: bytes(c.tcb_info_signature),
      qeIdentitySignature: bytes(c.qe_identity_signature),
      root_ca_crl: undefined,
      pck_crl: undefined,
      tcb_info_signature: undefined,
      qe_identity_signature: undefined,
    };
    return f;
  };
  it("is used when no collateral is given, in the protobuf-es and the proto3 JSON forms", async () => {
    const f = embed(makeFixture());
    const r = await verifyProof(f.result, { now: NOW, policy: f.policy });
    expect(r).toMatchObject({ ok: true, collateral: "embedded" });
    const json = JSON.parse(JSON.stringify(toProtoJson(f.result)));
    expect((await verifyProof(json, { now: NOW, policy: f.policy })).ok).toBe(true);
  });
  it("given collateral wins", async () => {
    const f = embed(makeFixture());
    (f.result.proof.tee as { collateral: { tcb_info: string } }).collateral.tcb_info = "{not json";
    const r = await verifyProof(f.result, { now: NOW, policy: f.policy, collateral: f.collateral });
    expect(r).toMatchObject({ ok: true, collateral: "given" });
  });
  it("is verified like any other, and a malformed one is an invalid proof, not an error", async () => {
    const f = embed(makeFixture());
    const c = (f.result.proof.tee as { collateral: Record<string, unknown> }).collateral;
    c.tcbInfo = 42;
    await expect(verifyProof(f.result, { now: NOW, policy: f.policy })).resolves.toMatchObject({
      ok: false,
      reason: "proof_malformed",
    });
    c.tcbInfo = undefined;
    c.tcb_info = undefined;
    const missing = await verifyProof(f.result, { now: NOW, policy: f.policy });
    expect(missing.reason).toBe("collateral_invalid");
  });
});
