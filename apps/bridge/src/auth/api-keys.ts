import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { ZeroGError } from "@chaoschain/zerog-core";

/** Per-key limits; unset ones fall back to the bridge's defaults (`--rate-limit`, …). */
export interface KeyLimits {
  /** Calls per second (token bucket refill). */
  rateLimit?: number | undefined;
  /** Calls allowed at once above the rate (bucket size). */
  rateBurst?: number | undefined;
  /** Jobs queued or running at once. */
  maxJobsInFlight?: number | undefined;
}

/** Who a call comes from: the key's id (never the key), and its limits. */
export interface Caller extends KeyLimits {
  /** The key's id from the keys file ("default" for ZEROG_API_KEY; "anonymous" without keys). */
  id: string;
  /** An operator key: it reaches every key's jobs (any other key reaches only its own). */
  allJobs?: boolean | undefined;
}

/** A key as held in memory: its id, limits and the SHA-256 of the key, never the key. */
export interface ApiKey extends Caller {
  sha256: string;
}

/** Shortest key accepted: a shorter one is guessable. */
const minKeyLength = 16;
const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The id of every caller of a bridge without keys: a key of that id would reach their jobs. */
const anonymousId = "anonymous";

export class ApiKeysFileError extends Error {
  override name = "ApiKeysFileError";
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** The key of ZEROG_API_KEY, with id "default" (any length, as before keys files; see `weakKey`). */
export function singleApiKey(key: string): ApiKey {
  return { id: "default", sha256: sha256(key) };
}

/** Whether a key is short enough to guess (a keys file refuses those; ZEROG_API_KEY only warns). */
export function weakKey(key: string): boolean {
  return key.length < minKeyLength;
}

function positive(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0)
    throw new ApiKeysFileError(`${where} must be a positive number`);
  return value;
}

/**
 * Parses a keys file: `{"keys": [{"id": "agent-a", "key": "…", "rateLimit": 20, "rateBurst": 40,
 * "maxJobsInFlight": 8}, {"id": "ci", "sha256": "<hex of sha256(key)>"}, {"id": "ops", "key": "…",
 * "allJobs": true}]}`. Errors name the entry and field, never a key.
 */
export function parseApiKeys(text: string): ApiKey[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // V8 quotes the text around the error (`Unexpected token 'z', ..."key": zk_live_"...`): a key
    // written without its quotes would be shown. Only the error's kind is kept.
    const reason = (err as Error).message.replace(/(, (\.\.\.)?".*| in JSON.*)$/s, "");
    throw new ApiKeysFileError(`not JSON (${reason})`);
  }
  const entries = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(entries)) throw new ApiKeysFileError('expected {"keys": [{"id": …, "key": …}, …]}');
  const ids = new Set<string>();
  const digests = new Set<string>();
  return entries.map((entry: unknown, i) => {
    const where = `keys[${i}]`;
    if (typeof entry !== "object" || entry === null) throw new ApiKeysFileError(`${where} must be an object`);
    const e = entry as Record<string, unknown>;
    for (const field of Object.keys(e)) {
      if (!["id", "key", "sha256", "rateLimit", "rateBurst", "maxJobsInFlight", "allJobs"].includes(field))
        throw new ApiKeysFileError(
          `${where}: unknown field ${JSON.stringify(field.slice(0, 32))}; fields: id, key or sha256, rateLimit, rateBurst, maxJobsInFlight, allJobs`,
        );
    }
    if (typeof e.id !== "string" || !idPattern.test(e.id))
      throw new ApiKeysFileError(`${where}.id must be 1 to 64 letters, digits, '.', '_' or '-'`);
    if (e.id === anonymousId)
      throw new ApiKeysFileError(
        `${where}.id "${anonymousId}" is the id of callers of a bridge without keys (their jobs would be this key's): use another id`,
      );
    if (e.allJobs !== undefined && typeof e.allJobs !== "boolean")
      throw new ApiKeysFileError(`${where}.allJobs (${e.id}) must be true or false`);
    if (ids.has(e.id)) throw new ApiKeysFileError(`${where}.id ${JSON.stringify(e.id)} is used twice`);
    ids.add(e.id);
    if ((e.key === undefined) === (e.sha256 === undefined))
      throw new ApiKeysFileError(`${where} (${e.id}) needs either key or sha256`);
    let digest: string;
    if (e.key !== undefined) {
      if (typeof e.key !== "string" || e.key.length < minKeyLength || /\s/.test(e.key))
        throw new ApiKeysFileError(
          `${where}.key (${e.id}) must be at least ${minKeyLength} characters without spaces`,
        );
      digest = sha256(e.key);
    } else {
      if (typeof e.sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(e.sha256))
        throw new ApiKeysFileError(`${where}.sha256 (${e.id}) must be 64 hex digits`);
      digest = e.sha256.toLowerCase();
    }
    if (digests.has(digest)) throw new ApiKeysFileError(`${where}.key (${e.id}) is the key of another entry`);
    digests.add(digest);
    return {
      id: e.id,
      sha256: digest,
      rateLimit: positive(e.rateLimit, `${where}.rateLimit`),
      rateBurst: positive(e.rateBurst, `${where}.rateBurst`),
      maxJobsInFlight: positive(e.maxJobsInFlight, `${where}.maxJobsInFlight`),
      ...(e.allJobs === true ? { allJobs: true } : {}),
    };
  });
}

/** Reads and parses a keys file; errors name the file. */
export function readApiKeysFile(path: string): ApiKey[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ApiKeysFileError(
      `cannot read the API keys file ${path} (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  try {
    return parseApiKeys(text);
  } catch (err) {
    throw new ApiKeysFileError(`the API keys file ${path}: ${(err as Error).message}`);
  }
}

/** Whether others than the owner may read the file (a warning, as ssh gives). */
export function readableByOthers(path: string): boolean {
  try {
    return (statSync(path).mode & 0o044) !== 0;
  } catch {
    return false;
  }
}

/**
 * The keys in force, replaced whole on rotation. A presented key is looked up by its SHA-256: the
 * keys themselves are never held, and the lookup time says nothing about them.
 */
export class KeyRing {
  #byDigest = new Map<string, ApiKey>();

  constructor(keys: readonly ApiKey[]) {
    this.replace(keys);
  }

  get size(): number {
    return this.#byDigest.size;
  }

  get ids(): string[] {
    return [...this.#byDigest.values()].map((k) => k.id);
  }

  replace(keys: readonly ApiKey[]): void {
    this.#byDigest = new Map(keys.map((k) => [k.sha256, k]));
  }

  /** The caller an `authorization` header names, or the error to answer. */
  identify(authorization: string | undefined): Caller | ZeroGError {
    const match = /^Bearer\s+(\S+)\s*$/i.exec((authorization ?? "").trim());
    if (!match)
      return new ZeroGError("unauthenticated", "missing API key: send `authorization: Bearer <key>`");
    const key = this.#byDigest.get(sha256(match[1]!));
    if (!key) return new ZeroGError("unauthenticated", "invalid API key");
    const { sha256: _, ...caller } = key;
    return caller;
  }
}
