import { sha256 } from "@noble/hashes/sha2.js";
import { InvalidInputError } from "./errors/input.js";
import { bytesToHex, isBytes, utf8ToBytes } from "./internal/bytes.js";
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
  const h = sha256.create();
  for (const k of KEYS) h.update(utf8ToBytes(`${k}=${c[k].length}:${c[k]};`));
  return bytesToHex(h.digest());
}

export interface CreateCollateralSourceParameters {
  /** Caller-supplied fetcher (the verifier itself never touches the network). */
  fetch: (request: CollateralRequest) => Promise<Collateral> | Collateral;
  /** Keep an entry at most this long after it was fetched (seconds of `now`). Default 3600. */
  ttlSeconds?: number | undefined;
}

/**
 * A {@link CollateralSource} over a caller-supplied fetcher, with a cache keyed by TEE type, FMSPC and CA.
 * An entry is refetched when its TCB info or QE identity `nextUpdate` has passed at the request's `now`, or
 * after `ttlSeconds`.
 *
 * @example
 * const source = createCollateralSource({ fetch: async ({ fmspc, ca }) => myPccs.get(fmspc, ca) });
 * await verifyQuote(quote, source, { now });
 */
export function createCollateralSource(
  p: CreateCollateralSourceParameters,
): CollateralSource & { size(): number } {
  const ttl = p.ttlSeconds ?? 3600;
  const cache = new Map<string, { collateral: Collateral; fetchedAt: number; expires: number }>();
  const inflight = new Map<string, Promise<Collateral>>();
  return {
    size: () => cache.size,
    async getCollateral(req) {
      const key = `${req.teeType}:${req.fmspc.toUpperCase()}:${req.ca}`;
      const hit = cache.get(key);
      if (hit && req.now >= hit.fetchedAt - 300 && req.now < hit.expires && req.now < hit.fetchedAt + ttl) {
        return hit.collateral;
      }
      let pending = inflight.get(key);
      if (!pending) {
        pending = Promise.resolve(p.fetch(req));
        inflight.set(key, pending);
      }
      try {
        const collateral = await pending;
        const n = normalizeCollateral(collateral);
        const next = (text: string) => {
          try {
            return Date.parse((JSON.parse(text) as { nextUpdate: string }).nextUpdate) / 1000;
          } catch {
            return req.now;
          }
        };
        cache.set(key, {
          collateral,
          fetchedAt: req.now,
          expires: Math.min(next(n.tcb_info), next(n.qe_identity)),
        });
        return collateral;
      } finally {
        inflight.delete(key);
      }
    },
  };
}
