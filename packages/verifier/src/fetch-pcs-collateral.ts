import { hexToBytes } from "@noble/hashes/utils.js";
import type { Collateral, CollateralRequest } from "./collateral.js";
import { CollateralFetchError } from "./errors/collateral.js";
import { type CollateralUnavailableError, InvalidInputError } from "./errors/input.js";
import { base64ToBytes, bytesToHex, equalBytes, utf8ToBytes } from "./internal/bytes.js";
import { jsonMembers } from "./internal/json-members.js";
import { parsePemChain } from "./internal/pem.js";
import {
  isSignedBy,
  type ParsedCert,
  type ParsedCrl,
  parseCertificate,
  parseCrl,
  verifyP256Raw,
} from "./internal/x509.js";
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

interface Answer {
  url: string;
  headers: Headers;
  body: Uint8Array;
}

/** The body, read up to `limit` bytes (a longer one is cancelled, not buffered). */
async function readLimited(res: Response, url: string, limit: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  const tooLarge = () =>
    new CollateralFetchError("too_large", url, `the answer is larger than ${limit} bytes`);
  if (declared > limit) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) {
    const all = new Uint8Array(await res.arrayBuffer());
    if (all.length > limit) throw tooLarge();
    return all;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

async function request(url: string, o: ResolvedPcsOptions, signal: AbortSignal): Promise<Answer> {
  let res: Response;
  try {
    res = await o.fetch(url, { signal, redirect: "follow" });
  } catch (e) {
    const cause = (e as { cause?: { message?: string; code?: string } })?.cause;
    const why = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
    throw new CollateralFetchError("network", url, `request failed: ${why}`, { cause: e });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    const requestId = res.headers.get("request-id") ?? undefined;
    throw new CollateralFetchError(
      "status",
      url,
      `answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}${requestId ? ` (Request-ID ${requestId})` : ""}`,
      { status: res.status, requestId },
    );
  }
  return { url, headers: res.headers, body: await readLimited(res, url, LIMITS.collateralFieldBytes) };
}

/** One GET, answered in full within the timeout or failed with a {@link CollateralFetchError}. */
async function get(url: string, o: ResolvedPcsOptions, group: AbortSignal): Promise<Answer> {
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  group.addEventListener("abort", onAbort);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctrl.abort();
      reject(new CollateralFetchError("timeout", url, `no complete answer within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
  });
  const answer = request(url, o, ctrl.signal);
  answer.catch(() => {}); // when the timeout wins, the aborted request's rejection is expected
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
    group.removeEventListener("abort", onAbort);
  }
}

const malformed = (url: string, problem: string, cause?: unknown) =>
  new CollateralFetchError("malformed", url, problem, { cause });
const mismatch = (url: string, problem: string) =>
  new CollateralFetchError("issuer_chain_mismatch", url, problem);

/** The issuer chain of an answer: URL-encoded strict PEM, exactly [signer, root], as Intel serves it. */
function issuerChain(a: Answer, names: readonly string[]): { pem: string; certs: [ParsedCert, ParsedCert] } {
  const raw = names.map((n) => a.headers.get(n)).find((v) => v !== null && v !== "");
  if (raw === undefined || raw === null) throw malformed(a.url, `no ${names.join(" or ")} header`);
  let pem: string;
  let ders: Uint8Array[];
  try {
    pem = decodeURIComponent(raw);
    ders = parsePemChain(pem);
  } catch (e) {
    throw malformed(a.url, `the ${names[0]} header is not a URL-encoded PEM chain`, e);
  }
  if (ders.length !== 2)
    throw malformed(a.url, `the ${names[0]} header has ${ders.length} certificates, not 2 (signer, root)`);
  try {
    return { pem, certs: ders.map(parseCertificate) as [ParsedCert, ParsedCert] };
  } catch (e) {
    throw malformed(a.url, `a certificate of the ${names[0]} header does not parse`, e);
  }
}

interface SignedDocument {
  /** The exact signed JSON text. */
  text: string;
  signature: Uint8Array;
  value: Record<string, unknown>;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** `{"<key>":<signed JSON>,"signature":"<hex r‖s>"}` with the signed value's exact text. */
function signedDocument(a: Answer, key: "tcbInfo" | "enclaveIdentity"): SignedDocument {
  let members: Map<string, string>;
  try {
    members = jsonMembers(utf8.decode(a.body));
  } catch (e) {
    throw malformed(a.url, `the body is not a JSON object: ${(e as Error).message}`, e);
  }
  const text = members.get(key);
  if (text === undefined || !text.startsWith("{")) throw malformed(a.url, `the body has no "${key}" object`);
  const sig = JSON.parse(members.get("signature") ?? "null") as unknown;
  if (typeof sig !== "string" || !/^[0-9a-fA-F]{128}$/.test(sig))
    throw malformed(a.url, 'the body has no "signature" of 64 bytes of hex');
  return { text, signature: hexToBytes(sig), value: JSON.parse(text) as Record<string, unknown> };
}

/** A CRL as DER: PCS answers DER (`encoding=der`), a PCCS's root CA CRL is hex text; PEM is accepted too. */
function crlOf(a: Answer): { der: Uint8Array; crl: ParsedCrl } {
  let der = a.body;
  if (der[0] !== 0x30) {
    const text = new TextDecoder("latin1").decode(a.body).trim();
    const pem = /^-----BEGIN X509 CRL-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END X509 CRL-----$/.exec(text);
    try {
      if (/^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0) der = hexToBytes(text);
      else if (pem) der = base64ToBytes(pem[1] as string, "crl");
      else throw new Error("neither DER, hex nor PEM");
    } catch (e) {
      throw malformed(a.url, `the body is not a CRL: ${(e as Error).message}`, e);
    }
  }
  try {
    return { der, crl: parseCrl(der) };
  } catch (e) {
    throw malformed(a.url, `the body is not a CRL: ${(e as Error).message}`, e);
  }
}

function nextUpdateOf(doc: SignedDocument, a: Answer, key: string): number {
  const t = typeof doc.value.nextUpdate === "string" ? Date.parse(doc.value.nextUpdate) / 1000 : Number.NaN;
  if (!Number.isFinite(t)) throw malformed(a.url, `${key}.nextUpdate is not a date`);
  return t;
}

function assertCurrent(a: Answer, what: string, nextUpdate: number | undefined, now: number): void {
  if (nextUpdate !== undefined && nextUpdate <= now)
    throw new CollateralFetchError(
      "expired",
      a.url,
      `the ${what} expired at ${new Date(nextUpdate * 1000).toISOString()} (nextUpdate), before now (${new Date(now * 1000).toISOString()})`,
    );
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
    get(url, o, group.signal).catch((e: unknown) => {
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
