import { hexToBytes } from "@noble/hashes/utils.js";
import { InvalidInputError } from "./errors/input.js";
import { bytesToHex, isBytes } from "./internal/bytes.js";
import { sha256Hex } from "./internal/sha256.js";
import { parseCrl } from "./internal/x509.js";
import { LIMITS } from "./limits.js";

/**
 * Quote collateral in the JSON shape of @phala/dcap-qvl (and Intel PCCS v4 responses): issuer chains as PEM,
 * CRLs as hex DER (or byte arrays), TCB info / QE identity as the exact signed JSON text, signatures as hex r‖s.
 */
export interface Collateral {
  pck_crl_issuer_chain: string;
  root_ca_crl: string | number[] | Uint8Array;
  pck_crl: string | number[] | Uint8Array;
  tcb_info_issuer_chain: string;
  tcb_info: string;
  tcb_info_signature: string | number[] | Uint8Array;
  qe_identity_issuer_chain: string;
  qe_identity: string;
  qe_identity_signature: string | number[] | Uint8Array;
  /** Informational, never verified: the FMSPC (hex) the TCB info was asked for. */
  fmspc?: string | undefined;
  /** Informational: the PCK CA whose CRL this is, "platform" or "processor". */
  pck_ca?: string | undefined;
  /** Informational: the PCS / PCCS base URL it was fetched from. */
  source_url?: string | undefined;
  /** Informational: when it was fetched (unix seconds). */
  fetch_time?: number | undefined;
}

/** What a {@link CollateralSource} is asked for. */
export interface CollateralRequest {
  teeType: "tdx" | "sgx";
  /** hex, uppercase */
  fmspc: string;
  /** PCK issuing CA: "platform" or "processor". */
  ca: "platform" | "processor";
  /** Verification time (unix seconds), so caches can refresh expired entries. */
  now: number;
}

/** Provides collateral on demand (e.g. from a PCCS through a caller-supplied fetcher). */
export interface CollateralSource {
  getCollateral(request: CollateralRequest): Promise<Collateral>;
}

export function isCollateralSource(v: unknown): v is CollateralSource {
  return typeof v === "object" && v !== null && typeof (v as CollateralSource).getCollateral === "function";
}

const KEYS = [
  "pck_crl_issuer_chain",
  "root_ca_crl",
  "pck_crl",
  "tcb_info_issuer_chain",
  "tcb_info",
  "tcb_info_signature",
  "qe_identity_issuer_chain",
  "qe_identity",
  "qe_identity_signature",
] as const;

/** Normalised collateral: every binary field as lowercase hex. */
export type NormalizedCollateral = { [K in (typeof KEYS)[number]]: string };

function toHexField(v: unknown, field: string): string {
  const size = typeof v === "string" ? v.length / 2 : isBytes(v) || Array.isArray(v) ? v.length : 0;
  if (size > LIMITS.collateralFieldBytes)
    throw new InvalidInputError(`collateral.${field}`, `larger than ${LIMITS.collateralFieldBytes} bytes`);
  if (typeof v === "string") {
    const s = v.trim().replace(/^0x/i, "");
    if (!/^[0-9a-fA-F]*$/.test(s) || s.length % 2)
      throw new InvalidInputError(`collateral.${field}`, "expected hex");
    return s.toLowerCase();
  }
  if (isBytes(v)) return bytesToHex(v);
  if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x < 256))
    return bytesToHex(Uint8Array.from(v));
  throw new InvalidInputError(`collateral.${field}`, "expected hex, bytes or a byte array");
}

/**
 * Validates and normalises collateral given as an object or as JSON text: the nine fields of the dcap-qvl
 * shape (others are ignored, so dcap-qvl never sees e.g. a `pck_certificate_chain` of the collateral's own).
 * Throws {@link InvalidInputError} naming the field.
 */
export function normalizeCollateral(input: Collateral | string): NormalizedCollateral {
  let obj: unknown = input;
  if (typeof input === "string") {
    try {
      obj = JSON.parse(input);
    } catch (e) {
      throw new InvalidInputError("collateral", "not valid JSON", { cause: e });
    }
  }
  if (typeof obj !== "object" || obj === null)
    throw new InvalidInputError("collateral", "expected an object");
  const o = obj as Record<string, unknown>;
  const out = {} as NormalizedCollateral;
  for (const k of KEYS) {
    const v = o[k];
    if (v === undefined || v === null) throw new InvalidInputError(`collateral.${k}`, "missing");
    if (k.endsWith("_chain") || k === "tcb_info" || k === "qe_identity") {
      if (typeof v !== "string") throw new InvalidInputError(`collateral.${k}`, "expected a string");
      if (v.length > LIMITS.collateralFieldBytes)
        throw new InvalidInputError(`collateral.${k}`, `larger than ${LIMITS.collateralFieldBytes} bytes`);
      out[k] = v;
    } else {
      out[k] = toHexField(v, k);
    }
  }
  return out;
}

/** sha256 (hex) of normalised collateral: the content key of everything derived from it. */
export function collateralKey(c: NormalizedCollateral): string {
  const parts: string[] = [];
  for (const k of KEYS) parts.push(`${k}=${c[k].length}:`, c[k], ";");
  return sha256Hex(...parts);
}

/**
 * When collateral stops being current: the earliest `nextUpdate` of its TCB info, QE identity and both CRLs
 * (unix seconds; -Infinity when one cannot be read, so nothing unreadable is ever cached).
 */
export function collateralNextUpdate(c: NormalizedCollateral): number {
  try {
    const doc = (text: string) => Date.parse((JSON.parse(text) as { nextUpdate: string }).nextUpdate) / 1000;
    const crl = (hex: string) => parseCrl(hexToBytes(hex)).nextUpdate ?? Number.POSITIVE_INFINITY;
    const t = Math.min(doc(c.tcb_info), doc(c.qe_identity), crl(c.pck_crl), crl(c.root_ca_crl));
    return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
  } catch {
    return Number.NEGATIVE_INFINITY;
  }
}

export interface CreateCollateralSourceParameters {
  /** Caller-supplied fetcher (the verifier itself never touches the network). */
  fetch: (request: CollateralRequest) => Promise<Collateral> | Collateral;
  /** Keep an entry at most this long after it was fetched (seconds of `now`). Default 3600. */
  ttlSeconds?: number | undefined;
  /** Most entries kept (least recently used dropped first). Default 64. */
  maxEntries?: number | undefined;
}

/** A {@link CollateralSource} with a bounded cache. */
export interface CachedCollateralSource extends CollateralSource {
  /** Entries in the cache. */
  size(): number;
  /** Forgets every entry. */
  clear(): void;
}

export type CreateCollateralSourceReturnType = CachedCollateralSource;

function positiveInt(v: number | undefined, dflt: number, max: number, field: string): number {
  const n = v ?? dflt;
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new InvalidInputError(field, `expected an integer in [1, ${max}], got ${String(v)}`);
  return n;
}

/**
 * A {@link CollateralSource} over a caller-supplied fetcher, with a cache keyed by what was asked (TEE type,
 * FMSPC, CA). An entry is used while the request's `now` is before the earliest `nextUpdate` of its TCB
 * info, QE identity and CRLs, and within `ttlSeconds` of when it was fetched; at most `maxEntries` are kept.
 * Concurrent requests for the same key share one fetch; failures and already-expired collateral are not
 * cached.
 *
 * @example
 * const source = createCollateralSource({ fetch: async ({ fmspc, ca }) => myPccs.get(fmspc, ca) });
 * await verifyQuote(quote, source, { now });
 */
export function createCollateralSource(p: CreateCollateralSourceParameters): CachedCollateralSource {
  if (typeof p?.fetch !== "function") throw new InvalidInputError("fetch", "expected a function");
  const ttl = positiveInt(p.ttlSeconds, 3600, 10 * 365 * 86400, "ttlSeconds");
  const maxEntries = positiveInt(p.maxEntries, 64, 1_000_000, "maxEntries");
  const cache = new Map<string, { collateral: Collateral; fetchedAt: number; expires: number }>();
  const inflight = new Map<string, Promise<Collateral>>();
  return {
    size: () => cache.size,
    clear: () => cache.clear(),
    async getCollateral(req) {
      const key = `${req.teeType}:${String(req.fmspc).toUpperCase()}:${req.ca}`;
      const hit = cache.get(key);
      if (hit && req.now >= hit.fetchedAt - 300 && req.now < hit.expires) {
        cache.delete(key); // most recently used last
        cache.set(key, hit);
        return hit.collateral;
      }
      if (hit) cache.delete(key);
      let pending = inflight.get(key);
      if (!pending) {
        pending = Promise.resolve().then(() => p.fetch(req));
        inflight.set(key, pending);
        pending.then(
          () => inflight.delete(key),
          () => inflight.delete(key),
        );
      }
      const collateral = await pending;
      const expires = Math.min(collateralNextUpdate(normalizeCollateral(collateral)), req.now + ttl);
      if (req.now < expires) {
        cache.delete(key);
        cache.set(key, { collateral, fetchedAt: req.now, expires });
        while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      }
      return collateral;
    },
  };
}
