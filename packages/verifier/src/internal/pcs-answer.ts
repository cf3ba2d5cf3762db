import { hexToBytes } from "@noble/hashes/utils.js";
import { CollateralFetchError } from "../errors/collateral.js";
import { base64ToBytes } from "./bytes.js";
import type { Answer } from "./http-get.js";
import { jsonMembers } from "./json-members.js";
import { parsePemChain } from "./pem.js";
import { type ParsedCert, type ParsedCrl, parseCertificate, parseCrl } from "./x509.js";

// Readers of Intel PCS v4 answers: each throws a CollateralFetchError naming the URL of a malformed one.

export const malformed = (url: string, problem: string, cause?: unknown) =>
  new CollateralFetchError("malformed", url, problem, { cause });
export const mismatch = (url: string, problem: string) =>
  new CollateralFetchError("issuer_chain_mismatch", url, problem);

/** The issuer chain of an answer: URL-encoded strict PEM, exactly [signer, root], as Intel serves it. */
export function issuerChain(
  a: Answer,
  names: readonly string[],
): { pem: string; certs: [ParsedCert, ParsedCert] } {
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

export interface SignedDocument {
  /** The exact signed JSON text. */
  text: string;
  signature: Uint8Array;
  value: Record<string, unknown>;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** `{"<key>":<signed JSON>,"signature":"<hex r‖s>"}` with the signed value's exact text. */
export function signedDocument(a: Answer, key: "tcbInfo" | "enclaveIdentity"): SignedDocument {
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
export function crlOf(a: Answer): { der: Uint8Array; crl: ParsedCrl } {
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

export function nextUpdateOf(doc: SignedDocument, a: Answer, key: string): number {
  const t = typeof doc.value.nextUpdate === "string" ? Date.parse(doc.value.nextUpdate) / 1000 : Number.NaN;
  if (!Number.isFinite(t)) throw malformed(a.url, `${key}.nextUpdate is not a date`);
  return t;
}

export function assertCurrent(a: Answer, what: string, nextUpdate: number | undefined, now: number): void {
  if (nextUpdate !== undefined && nextUpdate <= now)
    throw new CollateralFetchError(
      "expired",
      a.url,
      `the ${what} expired at ${new Date(nextUpdate * 1000).toISOString()} (nextUpdate), before now (${new Date(now * 1000).toISOString()})`,
    );
}
