import { Wallet } from "ethers";
import { describe, expect, test } from "vitest";
import { createSessionAuthorization, parseSessionToken, verifySessionToken } from "./session-token.js";

const user = Wallet.createRandom();
const provider = Wallet.createRandom().address;

describe("verifySessionToken", () => {
  test("accepts a token built like the SDK's", () => {
    const auth = createSessionAuthorization(user, { provider });
    const v = verifySessionToken(auth, provider.toLowerCase());
    expect(v).toMatchObject({ ok: true, user: user.address });
  });

  test("keeps the SDK key order in the signed JSON", () => {
    const parsed = parseSessionToken(createSessionAuthorization(user, { provider, timestamp: 1000 }));
    expect("rawMessage" in parsed && Object.keys(JSON.parse(parsed.rawMessage))).toEqual([
      "address",
      "provider",
      "timestamp",
      "expiresAt",
      "nonce",
      "generation",
      "tokenId",
    ]);
  });

  test.each([
    ["missing", undefined],
    ["missing", "Bearer sk-123"],
    ["malformed", "Bearer app-sk-!!!"],
    ["malformed", `Bearer app-sk-${Buffer.from("no-bar").toString("base64")}`],
    ["malformed", `Bearer app-sk-${Buffer.from("{not json|0x00").toString("base64")}`],
  ] as const)("rejects %s header %s", (reason, header) => {
    expect(verifySessionToken(header, provider)).toMatchObject({ ok: false, reason });
  });

  test("rejects a token for another provider", () => {
    const auth = createSessionAuthorization(user, { provider: Wallet.createRandom().address });
    expect(verifySessionToken(auth, provider)).toMatchObject({ ok: false, reason: "wrong-provider" });
  });

  test("rejects an expired token (second resolution, like the Go broker)", () => {
    const now = Date.now();
    const auth = createSessionAuthorization(user, {
      provider,
      timestamp: now - 10_000,
      expiresAt: now - 2_000,
    });
    expect(verifySessionToken(auth, provider, now)).toMatchObject({ ok: false, reason: "expired" });
  });

  test("rejects ephemeral tokens without expiry or longer than 24 h", () => {
    const noExpiry = createSessionAuthorization(user, { provider, expiresAt: 0 });
    expect(verifySessionToken(noExpiry, provider)).toMatchObject({
      ok: false,
      reason: "ephemeral-no-expiry",
    });
    const t = Date.now();
    const long = createSessionAuthorization(user, { provider, timestamp: t, expiresAt: t + 25 * 3600_000 });
    expect(verifySessionToken(long, provider)).toMatchObject({ ok: false, reason: "ephemeral-too-long" });
  });

  test("accepts a persistent token that never expires", () => {
    const auth = createSessionAuthorization(user, { provider, expiresAt: 0, tokenId: 3 });
    expect(verifySessionToken(auth, provider)).toMatchObject({ ok: true });
  });

  test("rejects a token whose address is not the signer", () => {
    const auth = createSessionAuthorization(user, { provider, address: Wallet.createRandom().address });
    expect(verifySessionToken(auth, provider)).toMatchObject({ ok: false, reason: "signer-mismatch" });
  });

  test("rejects a truncated signature", () => {
    const auth = createSessionAuthorization(user, { provider });
    const decoded = Buffer.from(auth.slice("Bearer app-sk-".length), "base64").toString();
    const bad = `Bearer app-sk-${Buffer.from(decoded.slice(0, -4)).toString("base64")}`;
    expect(verifySessionToken(bad, provider)).toMatchObject({ ok: false, reason: "bad-signature" });
  });
});
