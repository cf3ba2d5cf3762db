import { sha256, sha384 } from "@noble/hashes/sha2.js";
import { InvalidInputError } from "./errors/input.js";
import { bytesToHex, concatBytes, equalBytes, hexToBytesStrict, utf8ToBytes } from "./internal/bytes.js";

/** dstack's event type for runtime (RTMR3) events. */
export const DSTACK_RUNTIME_EVENT_TYPE = 0x08000001;

/** One dstack event-log entry. */
export interface EventLogEntry {
  imr: number;
  event_type: number;
  /** hex */
  digest: string;
  event: string;
  /** hex */
  event_payload: string;
}

export interface ReplayEventLogReturnType {
  /** hex RTMR0..3 replayed from the log (48 zero bytes for an IMR without events). */
  rtmrs: [string, string, string, string];
  /** hex payload of the `compose-hash` runtime event, when present. */
  composeHash?: string;
  /** Indexes of runtime events whose digest does not match sha384(type ‖ ":" ‖ event ‖ ":" ‖ payload). */
  badDigests: number[];
  events: EventLogEntry[];
}

/**
 * Parses a dstack event log (JSON text or array of `{imr, event_type, digest, event, event_payload}`) and
 * replays every IMR: `mr = sha384(mr ‖ digest)` from 48 zero bytes. Runtime events (type 0x08000001) also
 * have their digest recomputed as `sha384(u32le(type) ‖ ":" ‖ event ‖ ":" ‖ payload)`, so a log cannot claim
 * a compose hash other than the one extended into RTMR3.
 *
 * @throws {InvalidInputError} when the log is not JSON or an entry is malformed.
 */
export function replayEventLog(log: string | unknown[]): ReplayEventLogReturnType {
  let arr: unknown = log;
  if (typeof log === "string") {
    try {
      arr = JSON.parse(log);
    } catch (e) {
      throw new InvalidInputError("tee.event_log", "not valid JSON", { cause: e });
    }
  }
  if (!Array.isArray(arr)) throw new InvalidInputError("tee.event_log", "expected a JSON array");
  const mrs = [0, 1, 2, 3].map(() => new Uint8Array(48));
  const events: EventLogEntry[] = [];
  const badDigests: number[] = [];
  let composeHash: string | undefined;
  arr.forEach((raw, i) => {
    const e = raw as Record<string, unknown>;
    const field = `tee.event_log[${i}]`;
    if (typeof e !== "object" || e === null) throw new InvalidInputError(field, "expected an object");
    const imr = e.imr;
    if (typeof imr !== "number" || !Number.isInteger(imr) || imr < 0 || imr > 3)
      throw new InvalidInputError(`${field}.imr`, "expected 0..3");
    if (typeof e.digest !== "string") throw new InvalidInputError(`${field}.digest`, "expected hex");
    const digest = hexToBytesStrict(e.digest, `${field}.digest`);
    if (digest.length > 48) throw new InvalidInputError(`${field}.digest`, "longer than 48 bytes");
    const eventType = typeof e.event_type === "number" ? e.event_type : 0;
    const event = typeof e.event === "string" ? e.event : "";
    const payloadHex = typeof e.event_payload === "string" ? e.event_payload : "";
    const payload = hexToBytesStrict(payloadHex, `${field}.event_payload`);
    events.push({
      imr,
      event_type: eventType,
      digest: bytesToHex(digest),
      event,
      event_payload: bytesToHex(payload),
    });
    if (eventType === DSTACK_RUNTIME_EVENT_TYPE) {
      const t = Uint8Array.of(
        eventType & 0xff,
        (eventType >>> 8) & 0xff,
        (eventType >>> 16) & 0xff,
        (eventType >>> 24) & 0xff,
      );
      const expected = sha384(concatBytes(t, utf8ToBytes(`:${event}:`), payload));
      if (!equalBytes(expected, digest)) badDigests.push(i);
      if (event === "compose-hash" && imr === 3) composeHash = bytesToHex(payload);
    }
    const padded = new Uint8Array(48);
    padded.set(digest);
    mrs[imr] = sha384(concatBytes(mrs[imr] as Uint8Array, padded));
  });
  const out: ReplayEventLogReturnType = {
    rtmrs: mrs.map((m) => bytesToHex(m)) as [string, string, string, string],
    badDigests,
    events,
  };
  if (composeHash !== undefined) out.composeHash = composeHash;
  return out;
}

/** hex sha256 of the app compose text (the dstack compose hash). */
export function composeHashOf(appCompose: string): string {
  return bytesToHex(sha256(utf8ToBytes(appCompose)));
}
