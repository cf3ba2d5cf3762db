import type { CollateralAnalysis } from "./analyze-collateral.js";
import type { ReplayEventLogReturnType } from "./event-log.js";
import type { QuoteFacts } from "./quote-context.js";
import type { KnownSigner } from "./verify-response-signature.js";

/** Outcome of dcap-qvl's quote cryptography, valid for any `now` inside [notBefore, notAfter]. */
export interface CachedQuoteResult {
  status: string;
  advisoryIds: string[];
  notBefore: number;
  notAfter: number;
}

/** What the cache keeps, by kind. Every key is derived from content (bytes or a hash of them). */
export interface CacheEntries {
  /** Strict quote parses (fields and PCK certificates, or why malformed), by sha256 of the quote. */
  quote: QuoteFacts;
  /** Collateral analyses (CRL and chain signatures), by sha256 of the collateral + root. */
  collateral: Promise<CollateralAnalysis>;
  /** dcap-qvl results, by quote hash + collateral key + root hash. */
  dcap: CachedQuoteResult;
  /** Event-log replays, by sha256 of the log text. */
  eventLog: ReplayEventLogReturnType;
  /** NRAS token checks, by sha256 of token + JWKS + issuers; valid for any `now` in [notBefore, notAfter). */
  token: { payload: Record<string, unknown>; notBefore: number; notAfter: number };
  /** secp256k1 recoveries (a pure function of text and signature), by signature + text. */
  signer: { address: string; pubkey: string } | undefined;
  /** Enclave keys that signed before, by EIP-55 address, with precomputed multiples. */
  knownSigner: KnownSigner;
}

export type CacheKind = keyof CacheEntries;

/**
 * Cache of verification work that depends only on the inputs' bytes: parsed quotes, collateral with its
 * signature checks, dcap-qvl results (inside their validity windows), event-log replays, NRAS token checks
 * and enclave signer recoveries. Every key is derived from content, never from the identity of a caller's
 * object, so changing an input in place changes the verdict. Policies and time windows are re-evaluated on
 * every call. Pass one cache to many `verifyQuote` / `verifyProof` calls.
 */
export interface VerificationCache {
  readonly kind: "zerog-verification-cache";
  /** Hits and misses so far, and the number of entries kept. */
  stats(): { hits: number; misses: number; entries: number };
  clear(): void;
  /** @internal */
  get<K extends CacheKind>(kind: K, key: string): CacheEntries[K] | undefined;
  /** @internal */
  set<K extends CacheKind>(kind: K, key: string, value: CacheEntries[K]): void;
}

export interface CreateVerificationCacheParameters {
  /** Maximum entries per kind (oldest evicted first). Default 512. */
  maxEntries?: number | undefined;
}

/** Each known signer holds ~1,400 precomputed points (about 330 KB): few providers, so a small bound. */
const KNOWN_SIGNERS = 64;

/**
 * @example
 * const cache = createVerificationCache();
 * for (const proof of proofs) await verifyProof(proof, { collateral, now, cache });
 */
export function createVerificationCache(p: CreateVerificationCacheParameters = {}): VerificationCache {
  const max = p.maxEntries ?? 512;
  const maps = new Map<CacheKind, Map<string, unknown>>();
  let hits = 0;
  let misses = 0;
  const mapOf = (kind: CacheKind) => {
    let m = maps.get(kind);
    if (!m) {
      m = new Map();
      maps.set(kind, m);
    }
    return m;
  };
  return {
    kind: "zerog-verification-cache",
    stats: () => ({ hits, misses, entries: [...maps.values()].reduce((n, m) => n + m.size, 0) }),
    clear: () => {
      maps.clear();
      hits = 0;
      misses = 0;
    },
    get(kind, key) {
      const v = mapOf(kind).get(key);
      if (v === undefined) misses++;
      else hits++;
      return v as never;
    },
    set(kind, key, value) {
      const m = mapOf(kind);
      const limit = kind === "knownSigner" ? KNOWN_SIGNERS : max;
      if (m.size >= limit && !m.has(key)) m.delete(m.keys().next().value as string);
      m.set(key, value);
    },
  };
}

/** `compute()` memoised under `cache` (when given) by `kind` and content `key`. */
export function memo<K extends CacheKind>(
  cache: VerificationCache | undefined,
  kind: K,
  key: string,
  compute: () => CacheEntries[K],
): CacheEntries[K] {
  if (!cache) return compute();
  const hit = cache.get(kind, key);
  if (hit !== undefined) return hit;
  const value = compute();
  cache.set(kind, key, value);
  return value;
}
