import { sha384 } from "@noble/hashes/sha2.js";
import { InputTooLargeError, InvalidInputError } from "./errors/input.js";
import { bytesToHex, concatBytes, equalBytes, hexToBytesStrict, utf8ToBytes } from "./internal/bytes.js";
import { sha256Hex } from "./internal/sha256.js";
import { LIMITS } from "./limits.js";

/** dstack's event type for runtime (RTMR3) events. */
export const DSTACK_RUNTIME_EVENT_TYPE = 0x08000001;

/** One dstack event-log entry (as served in `event_log`). */
export interface EventLogEntry {
  imr: number;
  event_type: number;
  /** hex; empty for runtime events whose digest is computed from the payload (dstack strips it). */
  digest: string;
  event: string;
  /** hex */
  event_payload: string;
  /** dstack runtime event digest format: 1 (binary, default) or 2 (canonical JSON). */
  version?: 1 | 2;
}

/** The identity of a dstack workload, read as dstack does: from runtime events before `system-ready`. */
export interface DstackIdentity {
  /** Index (in the log) of the first `system-ready` runtime event, or -1. */
  systemReadyAt: number;
  /** Payloads (hex) of the `compose-hash` events before `system-ready`, in order. */
  composeHashes: string[];
  /** Indexes of `compose-hash` events after `system-ready` (an application extending RTMR3 itself). */
  lateComposeHashes: number[];
}

export interface ReplayEventLogReturnType {
  /** hex RTMR0..3 replayed from the log (48 zero bytes for an IMR without events). */
  rtmrs: [string, string, string, string];
  /** The first `compose-hash` payload before `system-ready` (dstack's own reading), when present. */
  composeHash?: string;
  /** Indexes of runtime events whose stated digest is not the digest of their name and payload. */
  badDigests: number[];
  identity: DstackIdentity;
  events: EventLogEntry[];
}

/** dstack's digest of a runtime event: v1 sha384(u32le type ‖ ":" ‖ name ‖ ":" ‖ payload), v2 sha384(JCS JSON). */
export function runtimeEventDigest(event: string, payload: Uint8Array, version: 1 | 2 = 1): Uint8Array {
  if (version === 2)
    return sha384(
      utf8ToBytes(
        JSON.stringify({ name: event, payload: bytesToHex(payload), type: DSTACK_RUNTIME_EVENT_TYPE }),
      ),
    );
  const t = DSTACK_RUNTIME_EVENT_TYPE;
  const type = Uint8Array.of(t & 0xff, (t >>> 8) & 0xff, (t >>> 16) & 0xff, (t >>> 24) & 0xff);
  return sha384(concatBytes(type, utf8ToBytes(`:${event}:`), payload));
}

function entry(raw: unknown, i: number): { e: EventLogEntry; digest: Uint8Array; payload: Uint8Array } {
  const field = `tee.event_log[${i}]`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw new InvalidInputError(field, "expected an object");
  const r = raw as Record<string, unknown>;
  const { imr, event_type: type } = r;
  if (typeof imr !== "number" || !Number.isInteger(imr) || imr < 0 || imr > 3)
    throw new InvalidInputError(`${field}.imr`, "expected 0..3");
  if (typeof type !== "number" || !Number.isInteger(type) || type < 0 || type > 0xffffffff)
    throw new InvalidInputError(`${field}.event_type`, "expected a 32-bit unsigned integer");
  const str = (k: string) => {
    const v = r[k] ?? "";
    if (typeof v !== "string") throw new InvalidInputError(`${field}.${k}`, "expected a string");
    return v;
  };
  const version = r.version ?? 1;
  if (version !== 1 && version !== 2) throw new InvalidInputError(`${field}.version`, "expected 1 or 2");
  const payload = hexToBytesStrict(str("event_payload"), `${field}.event_payload`);
  let digest = hexToBytesStrict(str("digest"), `${field}.digest`);
  const e: EventLogEntry = {
    imr,
    event_type: type,
    digest: bytesToHex(digest),
    event: str("event"),
    event_payload: bytesToHex(payload),
  };
  if (version === 2) e.version = 2;
  // Every RTMR3 event is a runtime event (dstack extends RTMR3 only so): another type would take its digest as
  // stated and keep a compose-hash out of the identity
  if (imr === 3 && type !== DSTACK_RUNTIME_EVENT_TYPE)
    throw new InvalidInputError(
      `${field}.event_type`,
      "an RTMR3 event must be a dstack runtime event (0x08000001)",
    );
  if (type === DSTACK_RUNTIME_EVENT_TYPE) {
    if (imr !== 3) throw new InvalidInputError(`${field}.imr`, "a dstack runtime event must extend RTMR3");
    // v1 digests "name:payload": a name with a colon is another split of the same bytes (dstack's have none),
    // e.g. "compose-hash" + ":xx…" read as "compose-hash:" + "xx…" would hide a compose-hash
    if (version === 1 && e.event.includes(":"))
      throw new InvalidInputError(`${field}.event`, "a v1 runtime event name cannot contain ':'");
    const computed = runtimeEventDigest(e.event, payload, version);
    if (digest.length === 0) digest = computed;
    else if (!equalBytes(digest, computed)) return { e, digest: new Uint8Array(0), payload };
  }
  if (digest.length !== 48)
    throw new InvalidInputError(`${field}.digest`, `expected 48 bytes (SHA-384), got ${digest.length}`);
  return { e, digest, payload };
}

/**
 * Parses a dstack event log (JSON text or array of `{imr, event_type, digest, event, event_payload}`) and
 * replays every IMR: `mr = sha384(mr ‖ digest)` from 48 zero bytes. Runtime events (type 0x08000001, the
 * only type RTMR3 takes; v1 names without ':') have their digest computed from their name and payload (v1 or
 * v2 format), so the log cannot claim a compose hash other than the one extended into RTMR3, nor hide one.
 * Also reads the workload identity the way dstack does: the events before the first `system-ready`.
 *
 * @throws {InvalidInputError} when the log is not JSON, too large, or an entry is malformed.
 * @example
 * const { rtmrs, identity } = replayEventLog(proof.tee.event_log);
 */
export function replayEventLog(log: string | unknown[]): ReplayEventLogReturnType {
  let arr: unknown = log;
  if (typeof log === "string") {
    if (log.length > LIMITS.eventLogBytes)
      throw new InputTooLargeError("tee.event_log", log.length, LIMITS.eventLogBytes);
    try {
      arr = JSON.parse(log);
    } catch (e) {
      throw new InvalidInputError("tee.event_log", "not valid JSON", { cause: e });
    }
  }
  if (!Array.isArray(arr)) throw new InvalidInputError("tee.event_log", "expected a JSON array");
  if (arr.length > LIMITS.eventLogEntries)
    throw new InvalidInputError(
      "tee.event_log",
      `${arr.length} entries exceeds the limit of ${LIMITS.eventLogEntries}`,
    );
  const mrs = [0, 1, 2, 3].map(() => new Uint8Array(48));
  const events: EventLogEntry[] = [];
  const badDigests: number[] = [];
  const identity: DstackIdentity = { systemReadyAt: -1, composeHashes: [], lateComposeHashes: [] };
  arr.forEach((raw, i) => {
    const { e, digest } = entry(raw, i);
    events.push(e);
    if (digest.length === 0) {
      badDigests.push(i);
      return;
    }
    mrs[e.imr] = sha384(concatBytes(mrs[e.imr] as Uint8Array, digest));
    if (e.event_type !== DSTACK_RUNTIME_EVENT_TYPE) return;
    if (e.event === "system-ready" && identity.systemReadyAt < 0) identity.systemReadyAt = i;
    else if (e.event === "compose-hash") {
      if (identity.systemReadyAt < 0) identity.composeHashes.push(e.event_payload);
      else identity.lateComposeHashes.push(i);
    }
  });
  const out: ReplayEventLogReturnType = {
    rtmrs: mrs.map((m) => bytesToHex(m)) as [string, string, string, string],
    badDigests,
    identity,
    events,
  };
  if (identity.composeHashes[0] !== undefined) out.composeHash = identity.composeHashes[0];
  return out;
}

/** hex sha256 of the app compose text (the dstack compose hash). */
export function composeHashOf(appCompose: string): string {
  return sha256Hex(appCompose);
}
