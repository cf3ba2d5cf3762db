import { randomUUID } from "node:crypto";
import * as provider from "@chaoschain/zerog-devnet";
import { getBytes, hashMessage, SigningKey, toBeArray, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import {
  cancelTaskDigest,
  createTaskDigest,
  datasetUploadDigest,
  isTaskId,
  modelDownloadDigest,
  signDigest,
} from "./request-signatures.js";

const wallet = Wallet.createRandom();
const key = new SigningKey(wallet.privateKey);

describe("fine-tuning request signatures", () => {
  it("digests match the provider's (the devnet simulator, written from the Go broker)", () => {
    const id = randomUUID();
    const hash = `0x${"cd".repeat(32)}`;
    expect(datasetUploadDigest(wallet.address, 1_700_000_000)).toBe(
      provider.datasetUploadDigest(wallet.address, 1_700_000_000),
    );
    expect(createTaskDigest(wallet.address, 17_000_000_000_000_040n, hash)).toBe(
      provider.createTaskDigest(wallet.address, 17_000_000_000_000_040n, hash),
    );
    expect(cancelTaskDigest(id)).toBe(provider.cancelTaskDigest(id));
    expect(modelDownloadDigest(id, 1_700_000_000)).toBe(provider.loraDownloadDigest(id, 1_700_000_000));
    expect(() => cancelTaskDigest("not-a-uuid")).toThrow(RangeError);
    expect(isTaskId(id)).toBe(true);
    expect(isTaskId(`${id}x`)).toBe(false);
  });

  it("signs all 32 digest bytes, even with leading zeros (where the SDK signs 31)", () => {
    // Find a digest with a leading zero byte: 1 in 256.
    let digest = "";
    for (let ts = 1_700_000_000; !digest; ts++) {
      const d = datasetUploadDigest(wallet.address, ts);
      if (d.startsWith("0x00")) digest = d;
    }
    const signature = signDigest(key, digest);
    // What a Go broker checks: personal_sign over the 32 bytes.
    expect(SigningKey.recoverPublicKey(hashMessage(getBytes(digest)), signature)).toBe(key.publicKey);
    expect(provider.recoverDigestSigner(digest, signature, wallet.address)?.address).toBe(wallet.address);
    // The SDK's form is a different message.
    expect(hashMessage(toBeArray(digest))).not.toBe(hashMessage(getBytes(digest)));
  });
});
