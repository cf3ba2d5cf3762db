import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createDstackAttestation,
  createEnclaveKey,
  createTestPki,
  runtimeEvent,
} from "@chaoschain/zerog-tee-sim";
import { describe, expect, it } from "vitest";
import { composeHashOf, replayEventLog, runtimeEventDigest } from "./event-log.js";
import { bytesToHex } from "./internal/bytes.js";
import { parseQuote } from "./parse-quote.js";

const real = (name: string) =>
  JSON.parse(readFileSync(new URL(`../test/vectors/dstack/${name}`, import.meta.url), "utf8")) as {
    quote: string;
    event_log: string;
  };

describe("replayEventLog on real dstack captures", () => {
  it.each(["quote-report.json", "tdx-lite-getquote.json"])("%s replays to the quote's RTMR0-3", (name) => {
    const { quote, event_log } = real(name);
    const q = parseQuote(quote);
    const r = replayEventLog(event_log);
    expect(r.badDigests).toEqual([]);
    expect(r.rtmrs).toEqual([q.td?.rtmr0, q.td?.rtmr1, q.td?.rtmr2, q.td?.rtmr3]);
    expect(r.identity.composeHashes).toHaveLength(1);
    expect(r.identity.lateComposeHashes).toEqual([]);
    expect(r.identity.systemReadyAt).toBeGreaterThan(0);
    expect(q.pckChain).toHaveLength(3);
  });
  it("an application event after system-ready replays without touching the identity", () => {
    const r = replayEventLog(real("quote-report.json").event_log);
    const after = r.events.slice(r.identity.systemReadyAt + 1).map((e) => e.event);
    expect(after).toEqual(["LIUM_MINER_HOTKEY"]);
    expect(r.composeHash).toBe("3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7");
  });
});

describe("replayEventLog", () => {
  const att = createDstackAttestation({
    pki: createTestPki({ seed: "ev" }),
    signingAddress: createEnclaveKey({ seed: "ev" }).address,
    binding: "address-ascii",
    appCompose: '{"name":"x"}',
    now: 1751624191,
  });
  it("replays all four RTMRs and finds the compose hash", () => {
    const r = replayEventLog(att.body.event_log);
    expect(r.rtmrs).toEqual(att.rtmrs);
    expect(r.composeHash).toBe(composeHashOf('{"name":"x"}'));
    expect(r.badDigests).toEqual([]);
  });
  it("reads the identity from before system-ready only (dstack's find_event)", () => {
    const late = runtimeEvent("compose-hash", new Uint8Array(32).fill(1));
    const r = replayEventLog([...att.eventLog, late]);
    expect(r.composeHash).toBe(composeHashOf('{"name":"x"}'));
    expect(r.identity.lateComposeHashes).toEqual([att.eventLog.length]);
  });
  it("computes runtime digests when the log strips them, in the v1 and v2 formats", () => {
    const stripped = att.eventLog.map((e) => (e.imr === 3 ? { ...e, digest: "" } : e));
    expect(replayEventLog(stripped).rtmrs).toEqual(att.rtmrs);
    // dstack's canonical JSON for v2 (cc-eventlog runtime_events.rs test): keys sorted, payload as hex
    const canonical = '{"name":"compose-hash","payload":"abcd","type":134217729}';
    expect(bytesToHex(runtimeEventDigest("compose-hash", Uint8Array.of(0xab, 0xcd), 2))).toBe(
      createHash("sha384").update(canonical).digest("hex"),
    );
    const v2 = {
      imr: 3,
      event_type: 0x08000001,
      digest: "",
      event: "compose-hash",
      event_payload: "abcd",
      version: 2,
    };
    const r = replayEventLog([v2]);
    expect(r.events[0]?.version).toBe(2);
    expect(r.composeHash).toBe("abcd");
    // v2 hashes the canonical JSON, so its digest differs from v1's
    expect(r.rtmrs[3]).not.toBe(replayEventLog([{ ...v2, version: 1 }]).rtmrs[3]);
  });
  it("an empty log replays to zeros", () => {
    expect(replayEventLog([]).rtmrs[3]).toBe("00".repeat(48));
  });
  it("flags a runtime event whose digest does not match its payload", () => {
    const ev = { ...runtimeEvent("compose-hash", new Uint8Array(32)), event_payload: "11".repeat(32) };
    expect(replayEventLog([ev]).badDigests).toEqual([0]);
  });
  it.each([
    ["not json"],
    ['{"a":1}'],
    ['[{"imr":7,"event_type":1,"digest":"00"}]'],
    ['[{"imr":3,"event_type":1,"digest":"zz"}]'],
    ['[{"imr":0,"event_type":1,"digest":"00"}]'],
    ['[{"imr":0,"digest":"00"}]'],
    ['[{"imr":1,"event_type":134217729,"event":"x","event_payload":""}]'],
    ['[{"imr":3,"event_type":134217729,"event":"x","event_payload":"","version":3}]'],
  ])("throws for %j", (log) => {
    expect(() => replayEventLog(log)).toThrow(expect.objectContaining({ name: "InvalidInputError" }));
  });
});
