import type { Collateral, CollateralRequest } from "./collateral.js";
import type { CollateralFetchError } from "./errors/collateral.js";
import { type CollateralUnavailableError, InvalidInputError } from "./errors/input.js";
import { bytesToHex, equalBytes, utf8ToBytes } from "./internal/bytes.js";
import { type Answer, httpGet } from "./internal/http-get.js";
import {
  assertCurrent,
  crlOf,
  issuerChain,
  malformed,
  mismatch,
  nextUpdateOf,
  signedDocument,
} from "./internal/pcs-answer.js";
import { isSignedBy, verifyP256Raw } from "./internal/x509.js";
import { LIMITS } from "./limits.js";
import { assertNow } from "./resolve-policy.js";

/** Intel's Provisioning Certification Service (PCS), the default collateral source. */
export const INTEL_PCS_URL = "https://api.trustedservices.intel.com";

/**
 * The Intel SGX Root CA's CRL: the CRL distribution point of the root certificate. Intel's PCS v4 has no
 * root-CRL route (a PCCS has: `/sgx/certification/v4/rootcacrl`).
 */
export const INTEL_ROOT_CA_CRL_URL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

/** Where and how to fetch collateral (shared by {@link fetchPcsCollateral} and `createPcsCollateralSource`). */
export interface PcsOptions {
  /**
   * Base URL of Intel's PCS (default {@link INTEL_PCS_URL}) or of any PCCS with the same v4 API, e.g.
   * `https://pccs.example:8081`. A trailing `/sgx/certification/v4` or `/tdx/certification/v4` is ignored.
   */
  url?: string | undefined;
  /**
   * Where the root CA CRL comes from. Default: {@link INTEL_ROOT_CA_CRL_URL} for Intel's PCS,
   * `<url>/sgx/certification/v4/rootcacrl` for any other base URL (a PCCS; it answers hex text).
   */
  rootCaCrlUrl?: string | undefined;
  /** The fetch to use (default `globalThis.fetch`: Node ≥ 20 and browsers). */
  fetch?: typeof globalThis.fetch | undefined;
  /** Per request, until the whole body is read (default 30 000 ms). */
  timeoutMs?: number | undefined;
}

export type FetchPcsCollateralParameters = PcsOptions;

/** Collateral as fetched: the nine dcap-qvl fields (bytes as lowercase hex) plus where, when and for what. */
export type FetchPcsCollateralReturnType = Required<
  Pick<
    Collateral,
    | "pck_crl_issuer_chain"
    | "tcb_info_issuer_chain"
    | "tcb_info"
    | "qe_identity_issuer_chain"
    | "qe_identity"
    | "fmspc"
    | "pck_ca"
    | "source_url"
    | "fetch_time"
  >
> & { root_ca_crl: string; pck_crl: string; tcb_info_signature: string; qe_identity_signature: string };

export type FetchPcsCollateralErrorType =
  | CollateralFetchError
  | CollateralUnavailableError
  | InvalidInputError;

/** Validated {@link PcsOptions}. */
export interface ResolvedPcsOptions {
  url: string;
  rootCaCrlUrl: string;
  fetch: typeof globalThis.fetch;
  timeoutMs: number;
}

function httpUrl(value: string, field: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidInputError(field, `not a URL: ${JSON.stringify(value)}`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:")
    throw new InvalidInputError(field, `expected an http(s) URL, got ${u.protocol}`);
  return value;
}

/** Validates options once (caller misuse throws {@link InvalidInputError} naming the option). */
export function resolvePcsOptions(o: PcsOptions = {}): ResolvedPcsOptions {
  const url = httpUrl(o.url ?? INTEL_PCS_URL, "url")
    .replace(/\/+$/, "")
    .replace(/\/(sgx|tdx)\/certification\/v4$/, "");
  const intel = new URL(url).origin === INTEL_PCS_URL && new URL(url).pathname.replace(/\/+$/, "") === "";
  const rootCaCrlUrl = httpUrl(
    o.rootCaCrlUrl ?? (intel ? INTEL_ROOT_CA_CRL_URL : `${url}/sgx/certification/v4/rootcacrl`),
    "rootCaCrlUrl",
  );
  const timeoutMs = o.timeoutMs ?? 30_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000)
    throw new InvalidInputError("timeoutMs", `expected an integer in [1, 600000], got ${String(timeoutMs)}`);
  const f = o.fetch ?? globalThis.fetch;
  if (typeof f !== "function")
    throw new InvalidInputError("fetch", "no fetch available: pass one (e.g. from undici)");
  // A browser's fetch must be called on the global object ("Illegal invocation" otherwise).
  const bound: typeof globalThis.fetch = (input, init) => f.call(globalThis, input, init);
  return { url, rootCaCrlUrl, fetch: bound, timeoutMs };
}

function assertRequest(r: CollateralRequest): void {
  if (typeof r !== "object" || r === null) throw new InvalidInputError("request", "expected an object");
  if (r.teeType !== "tdx" && r.teeType !== "sgx")
    throw new InvalidInputError("request.teeType", 'expected "tdx" or "sgx"');
  if (typeof r.fmspc !== "string" || !/^[0-9a-fA-F]{12}$/.test(r.fmspc))
    throw new InvalidInputError("request.fmspc", "expected 6 bytes of hex");
  if (r.ca !== "platform" && r.ca !== "processor")
    throw new InvalidInputError("request.ca", 'expected "platform" or "processor"');
  assertNow(r.now);
}

/**
 * Fetches the collateral of one platform from Intel's PCS v4 API or any PCCS with the same API, in parallel:
 * `GET /{tdx|sgx}/certification/v4/tcb?fmspc=`, `GET /{tdx|sgx}/certification/v4/qe/identity`,
 * `GET /sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der`, and the root CA CRL (see
 * {@link PcsOptions.rootCaCrlUrl}). Issuer chains come from the response headers (`TCB-Info-Issuer-Chain`,
 * `SGX-Enclave-Identity-Issuer-Chain`, `SGX-PCK-CRL-Issuer-Chain`). The signed TCB info and QE identity are
 * kept as the exact text served, CRLs as the exact DER (a PCCS's hex text decoded).
 *
 * Before returning, it checks what it can without a trust anchor: each document is signed by the first
 * certificate of its issuer chain, each chain's signer by its root, all chains share that root and it
 * signed the root CA CRL; the TCB info is the requested FMSPC's and TEE type's; nothing has passed its
 * `nextUpdate` at `request.now`. Whether that root is trusted is the verifier's check (`verifyQuote`).
 *
 * @throws {CollateralFetchError} naming the URL: a non-2xx status (`status`, `requestId`), a timeout, a
 *   network failure, an oversize (> 4 MiB) or malformed answer, an expired document, an issuer chain that
 *   did not sign its document.
 * @throws {InvalidInputError} for bad options or a bad request (caller misuse).
 * @example
 * const request = readCollateralRequest(quote, now); // { teeType, fmspc, ca, now }
 * const collateral = await fetchPcsCollateral(request); // Intel PCS; or { url: "https://pccs.example:8081" }
 * const report = await verifyQuote(quote, collateral, { now });
 */
export async function fetchPcsCollateral(
  request: CollateralRequest,
  options: FetchPcsCollateralParameters = {},
): Promise<FetchPcsCollateralReturnType> {
  assertRequest(request);
  const o = resolvePcsOptions(options);
  const { teeType: tee, ca, now } = request;
  const fmspc = request.fmspc.toUpperCase();
  const v4 = (t: string, path: string) => `${o.url}/${t}/certification/v4/${path}`;
  const group = new AbortController();
  const guarded = (url: string) =>
    httpGet(url, { ...o, maxBytes: LIMITS.collateralFieldBytes }, group.signal).catch((e: unknown) => {
      group.abort();
      throw e;
    });
  const [tcbA, qeA, pckA, rootA] = await Promise.all([
    guarded(v4(tee, `tcb?fmspc=${fmspc}`)),
    guarded(v4(tee, "qe/identity")),
    guarded(v4("sgx", `pckcrl?ca=${ca}&encoding=der`)),
    guarded(o.rootCaCrlUrl),
  ]);

  const tcb = signedDocument(tcbA, "tcbInfo");
  const qe = signedDocument(qeA, "enclaveIdentity");
  const tcbChain = issuerChain(tcbA, ["TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"]);
  const qeChain = issuerChain(qeA, ["SGX-Enclave-Identity-Issuer-Chain"]);
  const pckChain = issuerChain(pckA, ["SGX-PCK-CRL-Issuer-Chain"]);
  const pck = crlOf(pckA);
  const root = crlOf(rootA);

  if (String(tcb.value.fmspc).toUpperCase() !== fmspc)
    throw malformed(tcbA.url, `the TCB info is for FMSPC ${String(tcb.value.fmspc)}, not ${fmspc}`);
  const ids = tee === "tdx" ? { tcb: "TDX", qe: "TD_QE" } : { tcb: "SGX", qe: "QE" };
  if (tcb.value.id !== ids.tcb && !(tee === "sgx" && tcb.value.id === undefined))
    throw malformed(tcbA.url, `the TCB info's id is ${JSON.stringify(tcb.value.id)}, not "${ids.tcb}"`);
  if (qe.value.id !== ids.qe)
    throw malformed(qeA.url, `the QE identity's id is ${JSON.stringify(qe.value.id)}, not "${ids.qe}"`);

  const rootCert = tcbChain.certs[1];
  const [tcbSigned, qeSigned, pckSigned, rootSigned, ...chainsSigned] = await Promise.all([
    verifyP256Raw(tcbChain.certs[0].spki, tcbChain.certs[0].publicKey, utf8ToBytes(tcb.text), tcb.signature),
    verifyP256Raw(qeChain.certs[0].spki, qeChain.certs[0].publicKey, utf8ToBytes(qe.text), qe.signature),
    isSignedBy(pck.crl, pckChain.certs[0]),
    isSignedBy(root.crl, rootCert),
    ...[tcbChain, qeChain, pckChain].map((c) => isSignedBy(c.certs[0], c.certs[1])),
  ]);
  const header = { tcb: "TCB-Info-Issuer-Chain", qe: "SGX-Enclave-Identity-Issuer-Chain" };
  if (!tcbSigned)
    throw mismatch(tcbA.url, `the TCB info is not signed by the first certificate of ${header.tcb}`);
  if (!qeSigned)
    throw mismatch(qeA.url, `the QE identity is not signed by the first certificate of ${header.qe}`);
  if (!pckSigned)
    throw mismatch(
      pckA.url,
      "the PCK CRL is not signed by the first certificate of SGX-PCK-CRL-Issuer-Chain",
    );
  const answers = [tcbA, qeA, pckA];
  for (const [i, c] of [tcbChain, qeChain, pckChain].entries()) {
    if (!chainsSigned[i])
      throw mismatch((answers[i] as Answer).url, "the issuer chain's signer is not signed by its root");
    if (!equalBytes(c.certs[1].der, rootCert.der))
      throw mismatch((answers[i] as Answer).url, `the issuer chain ends in another root than ${header.tcb}`);
  }
  if (!rootSigned) throw mismatch(rootA.url, "the root CA CRL is not signed by the issuer chains' root");

  assertCurrent(tcbA, "TCB info", nextUpdateOf(tcb, tcbA, "tcbInfo"), now);
  assertCurrent(qeA, "QE identity", nextUpdateOf(qe, qeA, "enclaveIdentity"), now);
  assertCurrent(pckA, "PCK CRL", pck.crl.nextUpdate, now);
  assertCurrent(rootA, "root CA CRL", root.crl.nextUpdate, now);

  return {
    pck_crl_issuer_chain: pckChain.pem,
    root_ca_crl: bytesToHex(root.der),
    pck_crl: bytesToHex(pck.der),
    tcb_info_issuer_chain: tcbChain.pem,
    tcb_info: tcb.text,
    tcb_info_signature: bytesToHex(tcb.signature),
    qe_identity_issuer_chain: qeChain.pem,
    qe_identity: qe.text,
    qe_identity_signature: bytesToHex(qe.signature),
    fmspc,
    pck_ca: ca,
    source_url: o.url,
    fetch_time: now,
  };
}
