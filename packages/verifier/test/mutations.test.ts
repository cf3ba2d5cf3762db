import {
  createCertificate,
  createCollateral,
  createEnclaveKey,
  createNrasKey,
  createNrasToken,
  createTdxQuote,
  createTestPki,
  replaceCertificationData,
  runtimeEvent,
} from "@chaoschain/zerog-tee-sim";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import {
  type ComputeProofInput,
  createVerificationCache,
  type Reason,
  type VerifyProofParameters,
  verifyProof,
} from "../src/index.js";
import {
  enclave,
  type Fixture,
  hex,
  makeFixture,
  NOW,
  nrasKey,
  pki,
  resign,
  toProtoJson,
} from "./fixtures.js";

type Built = { input: unknown; options: VerifyProofParameters };
/** A mutation: what to verify, and the reason it must fail with (or the field of the InvalidInputError). */
type Case = [name: string, build: () => Built | Promise<Built>, expected: Reason | { throws: string }];

function base(fx: Fixture = makeFixture()) {
  return {
    input: fx.result as unknown,
    options: { now: NOW, collateral: fx.collateral, policy: fx.policy } as VerifyProofParameters,
  };
}
function withProof(
  mutate: (p: ComputeProofInput & Record<string, unknown>, fx: Fixture) => void,
  fx: Fixture = makeFixture(),
) {
  const b = base(fx);
  mutate(fx.result.proof as ComputeProofInput & Record<string, unknown>, fx);
  return b;
}
function flip(bytes: Uint8Array, offset: number, mask = 0x01): Uint8Array {
  const out = bytes.slice();
  out[offset] = (out[offset] as number) ^ mask;
  return out;
}
function withQuote(mutate: (q: Uint8Array) => Uint8Array) {
  return withProof((p) => {
    p.attestation = mutate(p.attestation as Uint8Array);
  });
}
function withCollateral(opts: Omit<Parameters<typeof createCollateral>[0], "pki" | "now">, now = NOW) {
  const b = base();
  b.options.collateral = createCollateral({ pki, now, ...opts });
  return b;
}
/** `b` with its policy's `tee` section extended by `patch`. */
function withTeePolicy(b: ReturnType<typeof base>, patch: Record<string, unknown>) {
  const pol = b.options.policy as { tee: Record<string, unknown> };
  b.options.policy = { ...pol, tee: { ...pol.tee, ...patch } };
  return b;
}
const tee = (p: ComputeProofInput) => p.tee as Record<string, unknown>;
const gpu = (p: ComputeProofInput) => p.gpu as Record<string, unknown>;
const editOneChar = (b: Uint8Array, find: string, repl: string) =>
  utf8ToBytes(new TextDecoder().decode(b).replace(find, repl));
// Offsets in a synthetic v4 quote: header 0..48, TD report 48..632, auth data size 632, quote signature 636..700,
// attestation key 700..764, cert data type 6 header 764..770, QE report 770..1154, QE report signature 1154..1218.
const SIG = 640;
const ATT_KEY = 720;
const QE_REPORT = 900;
const QE_REPORT_SIG = 1160;

const cases: Case[] = [
  // content binding (1)
  [
    "output changed by one character",
    () => {
      const fx = makeFixture();
      fx.result.output = "The answer is 43.";
      return base(fx);
    },
    "output_mismatch",
  ],
  [
    "request body changed by one character",
    () =>
      withProof((p) => {
        p.requestBody = editOneChar(p.requestBody as Uint8Array, "answer", "answes");
      }),
    "request_hash_mismatch",
  ],
  [
    "response body changed by one character",
    () =>
      withProof((p) => {
        p.responseBody = editOneChar(p.responseBody as Uint8Array, "42", "43");
      }),
    "response_hash_mismatch",
  ],
  [
    "body not matching the signed hash (claimed hashes recomputed)",
    () =>
      withProof((p) => {
        p.responseBody = editOneChar(p.responseBody as Uint8Array, "42", "43");
        p.responseHash = undefined;
      }),
    "response_hash_mismatch",
  ],
  [
    "signed text with another request hash",
    () =>
      withProof((p) => {
        p.requestHash = undefined;
        p.signedText = `${"0".repeat(64)}:${(p.signedText as string).split(":")[1]}`;
      }),
    "request_hash_mismatch",
  ],
  [
    "swapped enclave key (signed by a key outside the enclave)",
    () => {
      const fx = makeFixture({ key: createEnclaveKey({ seed: "attacker" }) });
      return base(fx);
    },
    "signature_mismatch",
  ],
  [
    "flipped bit in the enclave signature",
    () =>
      withProof((p) => {
        const s = p.signature as string;
        p.signature = `${s.slice(0, 10)}${s[10] === "0" ? "1" : "0"}${s.slice(11)}`;
      }),
    "signature_invalid",
  ],
  [
    "enclave_pubkey not the signer",
    () =>
      withProof((p) => {
        p.enclavePubkey = createEnclaveKey({ seed: "other" }).publicKey;
      }),
    "enclave_pubkey_mismatch",
  ],
  [
    "execution_hash wrong",
    () =>
      withProof((p) => {
        p.executionHash = "ab".repeat(32);
      }),
    "execution_hash_mismatch",
  ],
  [
    "method not tee-ml",
    () =>
      withProof((p) => {
        p.method = "zk-ml";
      }),
    "method_unsupported",
  ],
  // quote (2)
  [
    "quote missing",
    () =>
      withProof((p) => {
        p.attestation = new Uint8Array(0);
      }),
    "quote_missing",
  ],
  [
    "collateral missing",
    () => {
      const b = base();
      b.options.collateral = undefined;
      return b;
    },
    "collateral_missing",
  ],
  ["truncated quote", () => withQuote((q) => q.subarray(0, 700)), "quote_malformed"],
  ["flipped bit in quote header", () => withQuote((q) => flip(q, 30)), "quote_signature_invalid"],
  ["flipped bit in TD report body (MRTD)", () => withQuote((q) => flip(q, 200)), "quote_signature_invalid"],
  ["flipped bit in quote signature", () => withQuote((q) => flip(q, SIG)), "quote_signature_invalid"],
  ["flipped bit in attestation key", () => withQuote((q) => flip(q, ATT_KEY)), "qe_report_hash_mismatch"],
  [
    "flipped bit in QE report (certification data)",
    () => withQuote((q) => flip(q, QE_REPORT)),
    "qe_report_signature_invalid",
  ],
  [
    "flipped bit in QE report signature (certification data)",
    () => withQuote((q) => flip(q, QE_REPORT_SIG)),
    "qe_report_signature_invalid",
  ],
  [
    "quote signed by a key other than the attested one",
    () =>
      withQuote(() =>
        createTdxQuote({ pki, reportData: makeFixture().att.reportData, signingKey: pki.pck.privateKey }),
      ),
    "quote_signature_invalid",
  ],
  [
    "wrong QE vendor id",
    () =>
      withQuote(() => {
        const fx = makeFixture({ attestation: { quote: { qeVendorId: new Uint8Array(16).fill(0x42) } } });
        return fx.result.proof.attestation as Uint8Array;
      }),
    "qe_vendor_not_allowed",
  ],
  [
    "quote under an untrusted root (default Intel policy)",
    () => {
      const b = base();
      b.options.policy = { ...b.options.policy, tee: {} };
      return b;
    },
    "untrusted_root",
  ],
  // collateral (2, 6)
  [
    "expired collateral",
    () =>
      withCollateral({
        issueDate: NOW - 40 * 86400,
        nextUpdate: NOW - 10 * 86400,
        crlNextUpdate: NOW + 86400,
      }),
    "collateral_expired",
  ],
  [
    "not-yet-valid collateral",
    () => withCollateral({ issueDate: NOW + 3600, nextUpdate: NOW + 30 * 86400, crlThisUpdate: NOW - 3600 }),
    "collateral_not_yet_valid",
  ],
  [
    "expired PCK CRL",
    () => withCollateral({ crlThisUpdate: NOW - 20 * 86400, crlNextUpdate: NOW - 86400 }),
    "crl_expired",
  ],
  ["revoked PCK (CRL)", () => withCollateral({ revokedSerials: [pki.pck.serial] }), "pck_revoked"],
  ["PCK CRL with a bad signature", () => withCollateral({ badCrlSignature: "pck" }), "crl_signature_invalid"],
  [
    "root CA CRL with a bad signature",
    () => withCollateral({ badCrlSignature: "root" }),
    "crl_signature_invalid",
  ],
  [
    "PCK CRL signed by the wrong CA",
    () => withCollateral({ pckCrlSigner: pki.tcbSigning }),
    "crl_issuer_mismatch",
  ],
  [
    "PCK CRL from a forged CA carrying the real CA's name",
    () => {
      const forged = createTestPki({ seed: "forged" }).pckCa;
      const b = base();
      b.options.collateral = {
        ...createCollateral({ pki, now: NOW, pckCrlSigner: forged }),
        pck_crl_issuer_chain: forged.pem + pki.root.pem,
      };
      return b;
    },
    "certificate_chain_invalid",
  ],
  [
    "TCB status OutOfDate not allowed",
    () => withCollateral({ tcbStatus: "OutOfDate", advisoryIds: ["INTEL-SA-00837"] }),
    "tcb_status_not_allowed",
  ],
  ["TCB status Revoked", () => withCollateral({ tcbStatus: "Revoked" }), "tcb_status_not_allowed"],
  [
    "advisory not in the allow-list",
    () =>
      withTeePolicy(withCollateral({ tcbStatus: "SWHardeningNeeded", advisoryIds: ["INTEL-SA-00615"] }), {
        allowedTcbStatuses: ["UpToDate", "SWHardeningNeeded"],
        allowedAdvisoryIds: ["INTEL-SA-00334"],
      }),
    "advisory_not_allowed",
  ],
  ["TCB info for another FMSPC", () => withCollateral({ fmspc: "00906ED50000" }), "fmspc_mismatch"],
  ["PCE id not matching the TCB info", () => withCollateral({ pceId: "0001" }), "pce_id_not_allowed"],
  [
    "PCK certificate expired",
    () => {
      const shortPki = createTestPki({ seed: "verifier-tests", pckNotAfter: NOW - 86400 });
      const fx = makeFixture();
      const q = createTdxQuote({
        pki: shortPki,
        reportData: fx.att.reportData,
        mrtd: fx.att.mrtd,
        rtmr0: fx.att.rtmrs[0],
        rtmr1: fx.att.rtmrs[1],
        rtmr2: fx.att.rtmrs[2],
        rtmr3: fx.att.rtmrs[3],
      });
      fx.result.proof.attestation = q;
      return base(fx);
    },
    "certificate_expired",
  ],
  // report data (3)
  [
    "wrong report data (quote binds another address)",
    () => base(makeFixture({ attestation: { signingAddress: createEnclaveKey({ seed: "x" }).address } })),
    "report_data_mismatch",
  ],
  [
    "claimed report_data differs from the quote",
    () =>
      withProof((p) => {
        tee(p).reportData = new Uint8Array(64).fill(1);
      }),
    "report_data_mismatch",
  ],
  [
    "binding claimed as address-raw but quote has ascii",
    () =>
      withProof((p) => {
        tee(p).reportDataBinding = 3;
      }),
    "report_data_mismatch",
  ],
  // workload (4)
  ["wrong MRTD", () => withTeePolicy(base(), { mrtd: ["00".repeat(48)] }), "mrtd_not_allowed"],
  ["wrong RTMR0", () => withTeePolicy(base(), { rtmr0: ["11".repeat(48)] }), "rtmr_not_allowed"],
  [
    "RTMR3 not reproduced by the event log",
    () => base(makeFixture({ attestation: { quote: { rtmr3: "22".repeat(48) } } })),
    "rtmr_mismatch",
  ],
  [
    "event log compose-hash payload tampered",
    () =>
      base(
        makeFixture({
          attestation: {
            mutateEventLog: (ev) =>
              ev.map((e) => (e.event === "compose-hash" ? { ...e, event_payload: "33".repeat(32) } : e)),
          },
        }),
      ),
    "event_log_invalid",
  ],
  [
    "event log missing",
    () =>
      withProof((p) => {
        tee(p).eventLog = "";
      }),
    "event_log_missing",
  ],
  [
    "app_compose does not hash to the compose hash",
    () =>
      withProof((p) => {
        tee(p).appCompose = `${tee(p).appCompose as string} `;
      }),
    "compose_hash_mismatch",
  ],
  [
    "docker_digest not the compose hash",
    () =>
      withProof((p) => {
        p.dockerDigest = `sha256:${"44".repeat(32)}`;
      }),
    "docker_digest_mismatch",
  ],
  [
    "docker digest not allowed by policy",
    () => {
      const b = base();
      b.options.policy = { ...b.options.policy, dockerDigests: [`sha256:${"55".repeat(32)}`] };
      return b;
    },
    "docker_digest_not_allowed",
  ],
  // GPU (5)
  [
    "GPU JWT with a bad signature",
    () =>
      withProof((p, fx) => {
        gpu(p).nrasToken = createNrasToken({
          key: nrasKey,
          nonce: fx.att.gpuNonce as string,
          now: NOW,
          signingKey: new Uint8Array(48).fill(5),
        });
      }),
    "gpu_token_invalid",
  ],
  [
    "GPU evidence with the wrong nonce",
    () =>
      withProof((p) => {
        const nonce = "66".repeat(32);
        gpu(p).nonce = nonce;
        gpu(p).nrasToken = createNrasToken({ key: nrasKey, nonce, now: NOW });
      }),
    "gpu_nonce_mismatch",
  ],
  [
    "NRAS token for another nonce",
    () =>
      withProof((p) => {
        gpu(p).nrasToken = createNrasToken({ key: nrasKey, nonce: "77".repeat(32), now: NOW });
      }),
    "gpu_nonce_mismatch",
  ],
  [
    "NRAS token expired",
    () =>
      withProof((p, fx) => {
        gpu(p).nrasToken = createNrasToken({
          key: nrasKey,
          nonce: fx.att.gpuNonce as string,
          now: NOW - 7200,
          ttlSeconds: 600,
        });
      }),
    "gpu_token_invalid",
  ],
  [
    "NRAS overall result false",
    () =>
      withProof((p, fx) => {
        gpu(p).nrasToken = createNrasToken({
          key: nrasKey,
          nonce: fx.att.gpuNonce as string,
          now: NOW,
          overallResult: false,
        });
      }),
    "gpu_attestation_failed",
  ],
  [
    "GPU evidence missing but required",
    () =>
      withProof((p) => {
        p.gpu = undefined;
      }),
    "gpu_evidence_missing",
  ],
  // freshness (6)
  [
    "replayed old answer (signed created and timestamp two days old)",
    () =>
      withProof(
        (p) => {
          p.timestamp = BigInt(NOW - 2 * 86400);
        },
        makeFixture({ created: NOW - 2 * 86400 }),
      ),
    "stale_timestamp",
  ],
  [
    "answer signed an hour in the future",
    () =>
      withProof(
        (p) => {
          p.timestamp = String(NOW + 3600);
        },
        makeFixture({ created: NOW + 3600 }),
      ),
    "timestamp_in_future",
  ],
  ...issue9Cases(),
];

/** Cases of issue 9: each was accepted (or threw) before the fix. */
function issue9Cases(): Case[] {
  const enc = (t: string) => utf8ToBytes(t);
  const otherDigest = `sha256:${"55".repeat(32)}`;
  const sgxPolicy = (fx: Fixture, patch: Record<string, unknown> = {}) => withTeePolicy(base(fx), patch);
  const streamOf = (chunks: object[], eol = "\n") =>
    enc(`${chunks.map((c) => `data: ${JSON.stringify(c)}${eol}${eol}`).join("")}data: [DONE]${eol}${eol}`);
  const chunk = (index: number, content: string) => ({
    object: "chat.completion.chunk",
    created: NOW - 10,
    choices: [{ index, delta: { content }, finish_reason: null }],
  });
  /** A certification data whose second certificate hides from dcap-qvl behind a TAB after BEGIN. */
  const tabHidden = (forgedPem: string) =>
    enc(
      pki.pck.pem +
        forgedPem.replace("-----BEGIN CERTIFICATE-----\n", "-----BEGIN CERTIFICATE-----\t\n") +
        pki.pckCa.pem +
        pki.root.pem,
    );
  const forgedCa = createCertificate({
    subject: pki.pckCa.subject,
    issuer: pki.root.subject,
    seed: "forged-ca",
    ca: true,
  });
  const withCache = async (b: Built) => {
    b.options.cache = createVerificationCache();
    const first = await verifyProof(b.input as never, b.options);
    expect(first.ok).toBe(true);
    return b;
  };
  return [
    // 1. SGX quotes and pins of another TEE type
    [
      "SGX quote from any enclave under the default TEE types",
      () => {
        const b = base(makeFixture({ sgx: {} }));
        b.options.policy = { tee: { rootCaDer: pki.rootCaDer }, gpu: { required: false } };
        return b;
      },
      "tee_type_not_allowed",
    ],
    [
      "SGX quote allowed, policy pins MRTD, RTMR0-2 and docker digests (TDX pins)",
      () => {
        const tdx = makeFixture();
        const b = base(makeFixture({ sgx: {} }));
        b.options.policy = {
          ...tdx.policy,
          tee: { ...tdx.policy.tee, allowedTeeTypes: ["tdx", "sgx"] },
          gpu: { required: false },
        };
        return b;
      },
      "pin_tee_type_mismatch",
    ],
    [
      "TDX quote, policy pins MRENCLAVE (an SGX pin)",
      () => withTeePolicy(base(), { mrEnclave: ["ab".repeat(32)] }),
      "pin_tee_type_mismatch",
    ],
    [
      "SGX MRENCLAVE not allowed",
      () => sgxPolicy(makeFixture({ sgx: {} }), { mrEnclave: ["ab".repeat(32)] }),
      "mrenclave_not_allowed",
    ],
    [
      "SGX MRSIGNER not allowed",
      () => sgxPolicy(makeFixture({ sgx: {} }), { mrSigner: ["cd".repeat(32)] }),
      "mrsigner_not_allowed",
    ],
    [
      "SGX ISVPRODID not allowed",
      () => sgxPolicy(makeFixture({ sgx: { isvProdId: 3 } }), { isvProdIds: [1] }),
      "isv_prod_id_not_allowed",
    ],
    [
      "SGX ISVSVN below the minimum",
      () => sgxPolicy(makeFixture({ sgx: { isvSvn: 2 } }), { minIsvSvn: 5 }),
      "isv_svn_too_low",
    ],
    // 2. dstack compose-hash semantics
    [
      "second compose-hash after system-ready claims another, allowed workload",
      () => {
        const allowed = '{"name":"allowed"}';
        const fx = makeFixture({
          attestation: {
            editEvents: (ev) => [...ev, runtimeEvent("compose-hash", sha256Bytes(allowed))],
          },
        });
        const p = fx.result.proof;
        p.dockerDigest = `sha256:${hex(sha256Bytes(allowed))}`;
        tee(p).appCompose = allowed;
        fx.policy = { ...fx.policy, dockerDigests: [p.dockerDigest] };
        return base(fx);
      },
      "compose_hash_after_system_ready",
    ],
    [
      "two compose-hash events before system-ready",
      () =>
        base(
          makeFixture({
            attestation: {
              editEvents: (ev) =>
                ev.flatMap((e) =>
                  e.event === "compose-hash" ? [e, runtimeEvent("compose-hash", new Uint8Array(32))] : [e],
                ),
            },
          }),
        ),
      "compose_hash_duplicate",
    ],
    [
      "no compose-hash event",
      () =>
        base(
          makeFixture({ attestation: { editEvents: (ev) => ev.filter((e) => e.event !== "compose-hash") } }),
        ),
      "compose_hash_missing",
    ],
    // 3. freshness from signed data
    [
      "year-old signed response, timestamp edited to now",
      () => base(makeFixture({ created: NOW - 365 * 86400 })),
      "stale_timestamp",
    ],
    [
      "timestamp an hour away from the signed created",
      () =>
        withProof((p) => {
          p.timestamp = BigInt(NOW - 3600);
        }),
      "timestamp_mismatch",
    ],
    [
      "no signed time while the policy asks for freshness",
      () => base(makeFixture({ created: null })),
      "freshness_unsigned",
    ],
    // 4. PEM differential and strict certification data
    [
      "forged PCK CA hidden from dcap-qvl by a TAB after BEGIN, signing a forged PCK CRL",
      () => {
        const fx = makeFixture();
        fx.result.proof.attestation = replaceCertificationData(fx.att.quote, tabHidden(forgedCa.pem));
        fx.collateral = {
          ...createCollateral({ pki, now: NOW, pckCrlSigner: forgedCa }),
          pck_crl_issuer_chain: forgedCa.pem + pki.root.pem,
        };
        return base(fx);
      },
      "quote_malformed",
    ],
    [
      "bytes after the PEM chain in the certification data",
      () => withQuote((q) => replaceCertificationData(q, enc(`${pki.pckChainPem}garbage`))),
      "quote_malformed",
    ],
    [
      "a fourth certificate in the certification data",
      () => withQuote((q) => replaceCertificationData(q, enc(pki.pckChainPem + pki.tcbSigning.pem))),
      "quote_malformed",
    ],
    [
      "non-zero bytes after the auth data",
      () => withQuote((q) => replaceCertificationData(q, enc(pki.pckChainPem), Uint8Array.of(1, 2, 3))),
      "quote_malformed",
    ],
    // 5. a pin that cannot be checked
    [
      "dockerDigests pinned with requireEventLog false",
      () => withTeePolicy(base(), { requireEventLog: false }),
      { throws: "policy.dockerDigests" },
    ],
    // 6. ambiguous input
    [
      "ComputeResult flattened (output at the top, no nested proof)",
      () => {
        const fx = makeFixture();
        const b = base(fx);
        b.input = { ...fx.result.proof, output: "anything at all" };
        return b;
      },
      { throws: "result" },
    ],
    // 7. memoisation by content
    [
      "policy changed in place after first use",
      async () => {
        const b = await withCache(base());
        (b.options.policy as Record<string, unknown>).dockerDigests = [otherDigest];
        return b;
      },
      "docker_digest_not_allowed",
    ],
    [
      "collateral changed in place after first use",
      async () => {
        const b = await withCache(base());
        const revoking = createCollateral({ pki, now: NOW, revokedSerials: [pki.pck.serial] });
        (b.options.collateral as unknown as Record<string, unknown>).pck_crl = revoking.pck_crl;
        return b;
      },
      "pck_revoked",
    ],
    [
      "JWKS changed in place after first use",
      async () => {
        const b = await withCache(base());
        const jwks = (b.options.policy as { gpu: { jwks: { keys: unknown[] } } }).gpu.jwks;
        jwks.keys = createNrasKey({ seed: "other" }).jwks.keys;
        return b;
      },
      "gpu_token_invalid",
    ],
    // 8. TDX module identity
    [
      "MRSIGNERSEAM not Intel's",
      () => base(makeFixture({ attestation: { quote: { mrSignerSeam: "11".repeat(48) } } })),
      "tdx_module_mismatch",
    ],
    [
      "SEAMATTRIBUTES not zero",
      () =>
        base(
          makeFixture({ attestation: { quote: { seamAttributes: Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0) } } }),
        ),
      "tdx_module_mismatch",
    ],
    [
      "TDX module version without an identity in the TCB info",
      () =>
        base(
          makeFixture({
            attestation: {
              quote: { teeTcbSvn: Uint8Array.from([6, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) },
            },
          }),
        ),
      "tdx_module_mismatch",
    ],
    [
      "TDX module TCB level OutOfDate",
      () => {
        const identity = {
          id: "TDX_01",
          mrsigner: "0".repeat(96),
          attributes: "0000000000000000",
          attributesMask: "FFFFFFFFFFFFFFFF",
          tcbLevels: [
            { tcb: { isvsvn: 7 }, tcbDate: "2025-01-01T00:00:00Z", tcbStatus: "UpToDate" },
            { tcb: { isvsvn: 6 }, tcbDate: "2024-03-13T00:00:00Z", tcbStatus: "OutOfDate" },
          ],
        };
        return withCollateral({ tcbInfoOverrides: { tdxModuleIdentities: [identity] } });
      },
      "tcb_status_not_allowed",
    ],
    // 9. GPU evidence present is verified or the proof fails
    [
      "NRAS token without exp",
      () =>
        withProof((p, fx) => {
          gpu(p).nrasToken = createNrasToken({
            key: nrasKey,
            nonce: fx.att.gpuNonce as string,
            now: NOW,
            claims: { exp: undefined },
          });
        }),
      "gpu_token_invalid",
    ],
    [
      "NRAS token present, no JWKS to verify it",
      () => {
        const b = base();
        b.options.policy = { ...b.options.policy, gpu: { required: false } };
        return b;
      },
      "gpu_evidence_unverifiable",
    ],
    [
      "GPU evidence without an NRAS token",
      () => {
        const b = withProof((p) => {
          gpu(p).nrasToken = undefined;
        });
        b.options.policy = { ...b.options.policy, gpu: { required: false, jwks: nrasKey.jwks } };
        return b;
      },
      "gpu_evidence_unverifiable",
    ],
    // 10. OpenAI stream format
    [
      "two-choice stream whose output mixes both choices",
      () => {
        const fx = resign(
          makeFixture(),
          streamOf([chunk(0, "A"), chunk(1, "x"), chunk(0, "B"), chunk(1, "y")]),
        );
        fx.result.output = "AxBy";
        return base(fx);
      },
      "output_mismatch",
    ],
    // honest reports, policies, bounded cost
    [
      "strict policy with unpinned checks",
      () => {
        const b = base();
        b.options.policy = { ...b.options.policy, strict: true, dockerDigests: undefined } as never;
        return b;
      },
      "check_skipped",
    ],
    [
      "signature not 65 bytes",
      () =>
        withProof((p) => {
          p.signature = "0x1234";
        }),
      "signature_invalid",
    ],
    [
      "event log not JSON",
      () =>
        withProof((p) => {
          tee(p).eventLog = "{not json";
        }),
      "event_log_invalid",
    ],
    [
      "enclave_address not an address",
      () =>
        withProof((p) => {
          p.enclaveAddress = "0x1234";
        }),
      "proof_malformed",
    ],
    [
      "request_body not base64 (proto3 JSON)",
      () => {
        const fx = makeFixture();
        const b = base(fx);
        const json = toProtoJson(fx.result) as { proof: Record<string, unknown> };
        json.proof.requestBody = "***";
        b.input = json;
        return b;
      },
      "proof_malformed",
    ],
    [
      "4 MiB quote full of PEM certificates",
      () =>
        withQuote((q) =>
          replaceCertificationData(q, enc(pki.pck.pem.repeat(Math.ceil((4 << 20) / pki.pck.pem.length)))),
        ),
      "input_too_large",
    ],
    ["empty allow-list", () => withTeePolicy(base(), { mrtd: [] }), { throws: "policy.tee.mrtd" }],
    [
      "negative clock skew",
      () => {
        const b = base();
        b.options.policy = { ...b.options.policy, maxFutureSkewSeconds: -1 };
        return b;
      },
      { throws: "policy.maxFutureSkewSeconds" },
    ],
    [
      "unknown policy field (a pin with a typo)",
      () => withTeePolicy(base(), { mrTD: ["00".repeat(48)] }),
      { throws: "policy.tee.mrTD" },
    ],
    [
      "now out of range",
      () => {
        const b = base();
        b.options.now = 1e20;
        return b;
      },
      { throws: "now" },
    ],
  ];
}

function sha256Bytes(text: string): Uint8Array {
  return sha256(utf8ToBytes(text));
}

describe(`negative matrix (${cases.length} mutations), each rejected with its reason`, () => {
  it("has at least 25 mutations", () => expect(cases.length).toBeGreaterThanOrEqual(25));
  it.each(cases.map(([name, build, expected]) => ({ name, build, expected })))(
    "$name → $expected",
    async ({ build, expected }) => {
      const { input, options } = await build();
      if (typeof expected === "object") {
        await expect(verifyProof(input as never, options)).rejects.toMatchObject({
          name: "InvalidInputError",
          field: expected.throws,
        });
        return;
      }
      const r = await verifyProof(input as never, options);
      expect(r.ok).toBe(false);
      expect({ reason: r.reason, message: r.message }).toMatchObject({ reason: expected });
    },
  );
});

describe("the unmutated fixture passes (control)", () => {
  it("ok", async () => {
    const { input, options } = base();
    expect((await verifyProof(input as never, options)).ok).toBe(true);
    expect(enclave.address).toMatch(/^0x/);
  });
});
