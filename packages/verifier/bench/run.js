// Benchmark: raw @phala/dcap-qvl vs our verifyQuote vs verifyProof (cold and with a warm VerificationCache),
// the refusal of a 4 MiB hostile quote, and the slowest input of the property tests' generators.
// Plain Node ESM on dist/ (run `pnpm --filter @chaoschain/zerog-verifier build` first; turbo's `bench` does).
// One process, one core, interleaved rounds, medians. Writes bench/RESULTS.md.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  createDstackAttestation,
  createEnclaveKey,
  createNrasKey,
  createTestPki,
  replaceCertificationData,
} from "@chaoschain/zerog-tee-sim";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { build } from "esbuild";
import fc from "fast-check";
import {
  createVerificationCache,
  recoverPersonalSigner,
  toQuoteCollateral,
  verifyProof,
  verifyQuote,
} from "../dist/index.js";
import {
  loadWasmLibsecp256k1,
  nobleRecovery,
  secp256k1Recovery,
  useSecp256k1Recovery,
} from "../dist/internal/secp256k1.js";
import { recoversTo } from "../dist/verify-response-signature.js";

const require = createRequire(import.meta.url);
const dcap = require("@phala/dcap-qvl");
const dcapVersion = require("@phala/dcap-qvl/package.json").version;
if (secp256k1Recovery().name !== "libsecp256k1 (native)")
  throw new Error("libsecp256k1's addon did not load");
const wasmRecovery = loadWasmLibsecp256k1(require);
if (wasmRecovery instanceof Error) throw wasmRecovery;
const libsecp256k1Versions = {
  wasm: JSON.parse(
    readFileSync(new URL("../../package.json", pathToFileURL(require.resolve("tiny-secp256k1"))), "utf8"),
  ).version,
  native: require("secp256k1/package.json").version,
};

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const MIN_MS = Number(process.env.BENCH_MIN_MS ?? 300);

// test/arbitraries.ts and test/fixtures.ts are TypeScript: esbuild turns them into modules here.
const buildDir = here("./.build/");
await build({
  entryPoints: [here("../test/arbitraries.ts"), here("../test/fixtures.ts")],
  outdir: buildDir,
  bundle: true,
  packages: "external",
  format: "esm",
  platform: "node",
  logLevel: "error",
});
const { hostileInputs, mutationArbitrary } = await import(`${buildDir}arbitraries.js`);
const fixtures = await import(`${buildDir}fixtures.js`);
rmSync(buildDir, { recursive: true, force: true });

// --- inputs -------------------------------------------------------------------------------------------
const TDX_NOW = 1751624191;
const tdxQuote = new Uint8Array(readFileSync(here("../test/vectors/dcap/tdx_quote")));
const tdxCollateral = JSON.parse(
  readFileSync(here("../test/vectors/dcap/tdx_quote_collateral.json"), "utf8"),
);

const NOW = 1751624191;
const pki = createTestPki({ seed: "bench" });
const enclave = createEnclaveKey({ seed: "bench" });
const nrasKey = createNrasKey({ seed: "bench" });
const appCompose = JSON.stringify({ manifest_version: 2, name: "bench" });
const att = createDstackAttestation({
  pki,
  signingAddress: enclave.address,
  binding: "address-ascii",
  appCompose,
  now: NOW,
  gpu: { nrasKey },
});
/** One provider's result number `i`: same attestation, its own response and enclave signature. */
function makeResult(i) {
  const requestBody = utf8ToBytes(
    JSON.stringify({ model: "m", messages: [{ role: "user", content: `hi ${i}` }] }),
  );
  const responseBody = utf8ToBytes(
    JSON.stringify({
      object: "chat.completion",
      created: NOW - 5,
      choices: [{ index: 0, message: { role: "assistant", content: `hello ${i}` } }],
    }),
  );
  const signedText = `${bytesToHex(sha256(requestBody))}:${bytesToHex(sha256(responseBody))}`;
  const proof = {
    method: "tee-ml",
    dockerDigest: att.dockerDigest,
    enclavePubkey: enclave.publicKey,
    attestation: att.quote,
    executionHash: bytesToHex(sha256(utf8ToBytes(signedText))),
    signature: enclave.signPersonalMessage(signedText),
    timestamp: BigInt(NOW - 5),
    signedText,
    requestBody,
    responseBody,
    enclaveAddress: enclave.address,
    signingAlgo: "ecdsa",
    tee: {
      teeType: "tdx",
      reportDataBinding: 1,
      reportData: att.reportData,
      eventLog: att.body.event_log,
      appCompose,
    },
    gpu: {
      nonce: att.body.nvidia_payload.nonce,
      arch: "HOPPER",
      evidenceList: att.body.nvidia_payload.evidence_list,
      nrasToken: att.body.nras_token,
    },
  };
  return { output: `hello ${i}`, proof };
}
// Distinct results, so that no per-proof work (signature check, hashes) can be served from the cache:
// only what belongs to the provider's attestation is reused, as for a real stream of one provider's results.
const RESULTS = Array.from({ length: 2048 }, (_, i) => makeResult(i));
let nextResult = 0;
const result = () => RESULTS[nextResult++ % RESULTS.length];
const policy = fixtures.pinningPolicy(pki, att, nrasKey.jwks);
const syntheticVerifier = dcap.QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer));
const warmCache = createVerificationCache();
/** As the bridge checks the proofs it builds: the quote's collateral embedded in the proof (proto fields). */
const embedded = toQuoteCollateral(att.collateral);
const withEmbeddedCollateral = ({ output, proof }) => ({
  output,
  proof: { ...proof, tee: { ...proof.tee, collateral: embedded } },
});
/** `fn` (sync, or async to its end) with signatures recovered by `recovery`. */
function using(recovery, fn) {
  const restore = useSecp256k1Recovery(recovery);
  let out;
  try {
    out = fn();
  } catch (e) {
    restore();
    throw e;
  }
  if (out instanceof Promise) return out.finally(restore);
  restore();
  return out;
}
/** `fn` with signatures recovered by @noble/curves, as in browsers. */
const withNoble = (fn) => using(nobleRecovery, fn);
// With @noble/curves, a warm cache knows the enclave's key (its multiples precomputed) from its first signature on.
const nobleCache = createVerificationCache();
await withNoble(() =>
  verifyProof(RESULTS[0], { now: NOW, collateral: att.collateral, policy, cache: nobleCache }),
);
const knownSigner = nobleCache.get("knownSigner", enclave.address);
if (!knownSigner) throw new Error("no known signer");
const signatureOf = () => {
  const { proof } = result();
  return { text: proof.signedText, signature: proof.signature };
};

// --- cases --------------------------------------------------------------------------------------------
const cases = {
  rawTdx: () => {
    if (dcap.verify(tdxQuote, tdxCollateral, TDX_NOW).status !== "UpToDate") throw new Error("raw tdx");
  },
  quoteTdx: async () => {
    if (!(await verifyQuote(tdxQuote, tdxCollateral, { now: TDX_NOW })).ok)
      throw new Error("verifyQuote tdx");
  },
  rawSynthetic: () => {
    if (syntheticVerifier.verify(att.quote, att.collateral, NOW).status !== "UpToDate")
      throw new Error("raw synthetic");
  },
  quoteSynthetic: async () => {
    if (!(await verifyQuote(att.quote, att.collateral, { now: NOW, policy })).ok)
      throw new Error("verifyQuote synthetic");
  },
  proofCold: async () => {
    if (!(await verifyProof(result(), { now: NOW, collateral: att.collateral, policy })).ok)
      throw new Error("proof cold");
  },
  proofCachedEmbedded: async () => {
    const input = withEmbeddedCollateral(result());
    if (!(await verifyProof(input, { now: NOW, policy, cache: warmCache })).ok)
      throw new Error("proof cached, embedded collateral");
  },
  signatureRecover: () =>
    withNoble(() => {
      const { text, signature } = signatureOf();
      if (recoverPersonalSigner(text, signature)?.address !== enclave.address) throw new Error("recover");
    }),
  signatureKnownSigner: () => {
    const { text, signature } = signatureOf();
    if (!recoversTo(text, signature, knownSigner)) throw new Error("known signer");
  },
  signatureWasm: () =>
    using(wasmRecovery, () => {
      const { text, signature } = signatureOf();
      if (recoverPersonalSigner(text, signature)?.address !== enclave.address) throw new Error("WASM");
    }),
  signatureNative: () => {
    const { text, signature } = signatureOf();
    if (recoverPersonalSigner(text, signature)?.address !== enclave.address) throw new Error("native");
  },
  proofCached: async () => {
    if (!(await verifyProof(result(), { now: NOW, collateral: att.collateral, policy, cache: warmCache })).ok)
      throw new Error("proof cached");
  },
};

/**
 * Runs `fn` for at least MIN_MS of wall time; returns the CPU time (user + system, all of this process's
 * threads, WebCrypto's included) per op. CPU time, not wall time: the machine is shared, and other jobs'
 * load stretches wall time unevenly between cases.
 */
async function timeOnce(fn) {
  let n = 0;
  const start = performance.now();
  const cpu = process.cpuUsage();
  do {
    await fn();
    n++;
  } while (performance.now() - start < MIN_MS);
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / n;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// warm-up (JIT, and fills warmCache once: that is the "cached" path's premise)
for (const fn of Object.values(cases)) for (let i = 0; i < 20; i++) await fn();

const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(cases);
  if (r % 2) order.reverse(); // interleave, alternating order
  for (const k of order) samples[k].push(await timeOnce(cases[k]));
}
const ms = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));

// --- hostile input: a 4 MiB quote full of PEM certificates, refused by the size cap -------------------
const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(pki.pck.der).toString("base64")}\n-----END CERTIFICATE-----\n`;
const hostileQuote = replaceCertificationData(
  att.quote,
  utf8ToBytes(pem.repeat(Math.ceil((4 << 20) / pem.length))),
);
const refusals = [];
for (let i = 0; i < 21; i++) {
  const t0 = performance.now();
  const r = await verifyQuote(hostileQuote, att.collateral, { now: NOW, policy });
  refusals.push(performance.now() - t0);
  if (r.reason !== "input_too_large") throw new Error(`hostile quote: ${r.reason}`);
}
const refusalMs = median(refusals);
const refusalMaxMs = Math.max(...refusals);

// --- the property tests' generators: the slowest generated input (no cache) ---------------------------
const fx = fixtures.makeFixture();
const generated = [
  ...fc
    .sample(mutationArbitrary(fx.result), { numRuns: 300, seed: 9 })
    .map((m) => [`${m.field} mutation`, m.input]),
  ...fc.sample(hostileInputs(fx.result.proof), { numRuns: 300, seed: 11 }).map((x) => ["hostile fields", x]),
];
let slowest = { ms: 0, what: "" };
for (const [what, input] of generated) {
  const t0 = performance.now();
  await verifyProof(input, { now: fixtures.NOW, collateral: fx.collateral, policy: fx.policy });
  const took = performance.now() - t0;
  if (took > slowest.ms) slowest = { ms: took, what };
}
const perSec = (k) => (1000 / ms[k]).toFixed(0);
const overheadTdx = ms.quoteTdx / ms.rawTdx - 1;
const overheadSynthetic = ms.quoteSynthetic / ms.rawSynthetic - 1;
const speedup = ms.proofCold / ms.proofCached;
const pct = (x) => `${(x * 100).toFixed(1)}%`;
const verdict = (ok) => (ok ? "met" : "**MISSED**");

const cpu = os.cpus()[0]?.model ?? "unknown CPU";

/** Markdown table padded the way biome formats it (so the generated file is lint-clean). */
function table(header, align, rows) {
  const all = [header, ...rows];
  const w = header.map((_, i) => Math.max(3, ...all.map((r) => r[i].length)));
  const cell = (t, i) => (align[i] === "r" ? t.padStart(w[i]) : t.padEnd(w[i]));
  const line = (r) => `| ${r.map(cell).join(" | ")} |`;
  const sep = `| ${w.map((n, i) => (align[i] === "r" ? `${"-".repeat(n - 1)}:` : "-".repeat(n))).join(" | ")} |`;
  return [line(header), sep, ...rows.map(line)];
}

const lines = [
  "# @chaoschain/zerog-verifier benchmark",
  "",
  `Node ${process.version}, ${cpu}, one core (single process, sequential), @phala/dcap-qvl ${dcapVersion}.`,
  `${ROUNDS} interleaved rounds of ≥${MIN_MS} ms per case; medians of per-round means of CPU time (user + system of`,
  "this process, all threads): the machine is shared, and CPU time is what other jobs' load disturbs least.",
  "Command: `pnpm --filter @chaoschain/zerog-verifier bench`.",
  "",
  ...table(
    ["case", "input", "median CPU ms/op", "ops/s (1 core)"],
    ["l", "l", "r", "r"],
    [
      [
        "raw `dcap.verify`",
        "Intel TDX vector (real collateral, Intel root)",
        ms.rawTdx.toFixed(3),
        perSec("rawTdx"),
      ],
      ["`verifyQuote` (no cache)", "same", ms.quoteTdx.toFixed(3), perSec("quoteTdx")],
      [
        "raw `QuoteVerifier.verify`",
        "synthetic TDX quote (tee-sim, test root)",
        ms.rawSynthetic.toFixed(3),
        perSec("rawSynthetic"),
      ],
      ["`verifyQuote` (no cache)", "same", ms.quoteSynthetic.toFixed(3), perSec("quoteSynthetic")],
      [
        "`verifyProof` cold (no cache)",
        "full synthetic ComputeResult: signature, quote, report data, RTMR replay, NRAS JWT",
        ms.proofCold.toFixed(3),
        perSec("proofCold"),
      ],
      [
        "`verifyProof` cached",
        "same, warm `VerificationCache` (repeated proofs of one provider)",
        ms.proofCached.toFixed(3),
        perSec("proofCached"),
      ],
      [
        "`verifyProof` cached, embedded collateral",
        "same, the collateral in the proof's `tee.collateral` (as the bridge checks the proofs it builds)",
        ms.proofCachedEmbedded.toFixed(3),
        perSec("proofCachedEmbedded"),
      ],
    ],
  ),
  "",
  "Enclave signature of one result (EIP-191 over its signed text, each result its own signature):",
  "",
  ...table(
    ["signature check", "median CPU ms/op", "ops/s (1 core)"],
    ["l", "r", "r"],
    [
      [
        "@noble/curves recovery (`recoverPersonalSigner` in browsers)",
        ms.signatureRecover.toFixed(3),
        perSec("signatureRecover"),
      ],
      [
        "@noble/curves, known signer (`recoversTo`: a warm cache without WASM)",
        ms.signatureKnownSigner.toFixed(3),
        perSec("signatureKnownSigner"),
      ],
      [
        `libsecp256k1 WASM recovery (tiny-secp256k1 ${libsecp256k1Versions.wasm}: Node without the addon)`,
        ms.signatureWasm.toFixed(3),
        perSec("signatureWasm"),
      ],
      [
        `libsecp256k1 native recovery (secp256k1 ${libsecp256k1Versions.native} addon: \`recoverPersonalSigner\` in Node)`,
        ms.signatureNative.toFixed(3),
        perSec("signatureNative"),
      ],
    ],
  ),
  "",
  ...table(
    ["ratio", "value", "target", ""],
    ["l", "r", "r", "l"],
    [
      [
        "our quote overhead over raw dcap-qvl (Intel TDX vector)",
        pct(overheadTdx),
        "< 25%",
        verdict(overheadTdx < 0.25),
      ],
      [
        "our quote overhead over raw dcap-qvl (synthetic quote)",
        pct(overheadSynthetic),
        "< 25%",
        verdict(overheadSynthetic < 0.25),
      ],
      ["cached vs cold full proof", `${speedup.toFixed(1)}x faster`, "≥ 5x", verdict(speedup >= 5)],
      [
        "4 MiB hostile quote refused by the size cap (median of 21, max)",
        `${refusalMs.toFixed(2)} ms (${refusalMaxMs.toFixed(2)})`,
        "< 50 ms",
        verdict(refusalMaxMs < 50),
      ],
    ],
  ),
  "",
  `Slowest of ${generated.length} inputs from the property tests' generators (byte mutations of a valid proof,`,
  `hostile field values), verified without a cache: ${slowest.ms.toFixed(2)} ms (${slowest.what}).`,
  "",
  "Notes:",
  "",
  '- "no cache" means no `VerificationCache`: the policy is validated, the quote parsed strictly, collateral re-parsed,',
  "  both CRL signatures and the PCK CRL issuer's signature re-verified up to the root, and dcap-qvl (quote, QE report,",
  "  PCK / TCB-info / QE-identity chains) re-run on every call. Between calls the module keeps only imported WebCrypto",
  "  public keys (by SPKI bytes).",
  "- The cached path reuses, per provider attestation and keyed by content (sha256 of the quote, the collateral, the",
  "  event log, the token with the JWKS), the parsed quote and collateral, dcap-qvl's result (inside the intersection of",
  "  all validity windows), the event-log replay and the NRAS signature check. Each call still hashes its inputs,",
  "  validates the policy, re-evaluates every time window at `now` and the whole policy, checks the enclave signature",
  "  of this result (see below), the body hashes, the output, the signed time and the GPU nonce binding.",
  "- Signatures: Node recovers with libsecp256k1's addon (the optional `secp256k1` package), so the `verifyProof` rows",
  "  use it; a Node that cannot load the addon uses libsecp256k1's WASM build, and browsers (and a Node with neither)",
  "  @noble/curves, with the known-signer check when cached. Each @noble/curves check also leaves ~350 KB of garbage;",
  "  libsecp256k1 almost none. Loading the WASM build costs ~10 MB of RSS in a bare Node 20 process, the addon ~2.5 MB.",
  "  The differential test (`test/signature-differential.test.ts`) holds the three, cached or not, to one answer.",
  "- The hostile quote is refused by its length before any parsing; the slowest generated input is wall time (one",
  "  input, no median), so it includes whatever else the machine was doing.",
  `- Load average during the run: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(
      " / ",
    )} (1/5/15 min) on ${os.cpus().length} CPUs. Other jobs shared the machine, so absolute numbers`,
  "  are noisy; the ratios come from interleaved rounds of the same process.",
  "",
];
const md = lines.join("\n");
process.stdout.write(md);
writeFileSync(here("./RESULTS.md"), md);
