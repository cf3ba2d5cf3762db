import { expect, test } from "vitest";
import { type ChatSignature, SignatureStore } from "./signature-store.js";

const sig: ChatSignature = { text: "a:b", signature: "0x00", signing_address: "0x0", signing_algo: "ecdsa" };

test("signatures expire after the TTL and are pruned", () => {
  const store = new SignatureStore(1_000);
  store.set("chat-1", sig, 0);
  store.set("chat-2", sig, 500);
  expect(store.get("chat-1", 999)).toBe(sig);
  expect(store.get("chat-1", 1_000)).toBeUndefined();
  expect(store.get("unknown", 0)).toBeUndefined();
  store.prune(1_500);
  expect(store.size).toBe(0);
});
