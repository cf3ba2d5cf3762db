import type { CollateralAnalysis } from "./analyze-collateral.js";
import type { NormalizedCollateral } from "./collateral.js";
import type { KnownSigner } from "./verify-response-signature.js";

/** Cached outcome of the expensive quote cryptography (dcap-qvl), valid inside a time window. */
export interface CachedQuoteResult {
  status: string;
  advisoryIds: string[];
  /** The result holds for any `now` in [notBefore, notAfter]. */
  notBefore: number;
  notAfter: number;
}

/**
 * Cache of verification work that depends only on the inputs' bytes: normalised collateral, parsed
 * certificates and CRLs with their signature checks, and per-quote signature-chain results (valid inside the
 * intersection of all validity windows). Policy checks and time checks are always re-evaluated at `now`.
 * Pass one cache to many `verifyQuote` / `verifyProof` calls (e.g. repeated proofs from one provider).
 */
export interface VerificationCache {
  readonly kind: "zerog-verification-cache";
  /** Number of hits and misses so far (collateral analyses and quote results). */
  stats(): { hits: number; misses: number; entries: number };
  clear(): void;
  /** @internal */
  readonly _normalized: WeakMap<object, { normalized: NormalizedCollateral; key: string }>;
  /** @internal */
  readonly _collateral: Map<string, Promise<CollateralAnalysis>>;
  /** @internal */
  readonly _quotes: Map<string, CachedQuoteResult>;
  /** @internal NRAS token verification results (payload, validity window), by token + JWKS + issuers. */
  readonly _tokens: Map<string, { payload: Record<string, unknown>; notBefore: number; notAfter: number }>;
  /** @internal Parsed quotes (structure + PCK chain), by sha256 of the quote. */
  readonly _parsedQuotes: Map<string, unknown>;
  /** @internal Event-log replays, by the log text. */
  readonly _eventLogs: Map<string, unknown>;
  /** @internal secp256k1 recoveries (a pure function of text and signature), by signature + text. */
  readonly _signers: Map<string, { address: string; pubkey: string } | undefined>;
  /** @internal Enclave keys that signed before, by EIP-55 address, ready for a fast check of the next signature. */
  readonly _knownSigners: Map<string, KnownSigner>;
  /** @internal */
  _hit(hit: boolean): void;
}

export interface CreateVerificationCacheParameters {
  /** Maximum entries per map (oldest evicted first). Default 512. */
  maxEntries?: number | undefined;
}

/**
 * @example
 * const cache = createVerificationCache();
 * for (const proof of proofs) await verifyProof(proof, { collateral, now, cache });
 */
export function createVerificationCache(p: CreateVerificationCacheParameters = {}): VerificationCache {
  const max = p.maxEntries ?? 512;
  let hits = 0;
  let misses = 0;
  const bound = <K, V>(m: Map<K, V>, limit = max) => {
    const set = m.set.bind(m);
    m.set = (k: K, v: V) => {
      if (m.size >= limit && !m.has(k)) m.delete(m.keys().next().value as K);
      return set(k, v);
    };
    return m;
  };
  const cache: VerificationCache = {
    kind: "zerog-verification-cache",
    _normalized: new WeakMap(),
    _collateral: bound(new Map()),
    _quotes: bound(new Map()),
    _tokens: bound(new Map()),
    _parsedQuotes: bound(new Map()),
    _eventLogs: bound(new Map()),
    _signers: bound(new Map()),
    // Each holds ~1,400 precomputed points (about 330 KB): few providers, so a small bound.
    _knownSigners: bound(new Map(), 64),
    stats: () => ({ hits, misses, entries: cache._collateral.size + cache._quotes.size }),
    clear: () => {
      cache._collateral.clear();
      cache._quotes.clear();
      cache._tokens.clear();
      cache._parsedQuotes.clear();
      cache._eventLogs.clear();
      cache._signers.clear();
      cache._knownSigners.clear();
      hits = 0;
      misses = 0;
    },
    _hit(hit) {
      if (hit) hits++;
      else misses++;
    },
  };
  return cache;
}
