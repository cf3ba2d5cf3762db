import {
  createDstackAttestation,
  createEnclaveKey,
  createTestPki,
  runtimeEvent,
} from "@chaoschain/zerog-tee-sim";
import { describe, expect, it } from "vitest";
import { composeHashOf, replayEventLog } from "./event-log.js";

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
  it("an empty log replays to zeros", () => {
    expect(replayEventLog([]).rtmrs[3]).toBe("00".repeat(48));
  });
  it("flags a runtime event whose digest does not match its payload", () => {
    const ev = { ...runtimeEvent("compose-hash", new Uint8Array(32)), event_payload: "11".repeat(32) };
    expect(replayEventLog([ev]).badDigests).toEqual([0]);
  });
  it.each([["not json"], ['{"a":1}'], ['[{"imr":7,"digest":"00"}]'], ['[{"imr":3,"digest":"zz"}]']])(
    "throws for %j",
    (log) => {
      expect(() => replayEventLog(log)).toThrow(expect.objectContaining({ name: "InvalidInputError" }));
    },
  );
});
