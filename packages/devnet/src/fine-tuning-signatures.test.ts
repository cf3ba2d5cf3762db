import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { getBytes, hexlify, Wallet } from "ethers";
import { describe, expect, test } from "vitest";
import {
  cancelTaskDigest,
  createTaskDigest,
  datasetUploadDigest,
  recoverDigestSigner,
  sameUser,
  signDigest,
  uuidBytes,
} from "./fine-tuning-signatures.js";

// The SDK's own signing helpers (lib.commonjs/common/utils/encrypt.js), loaded by path: not exported.
const require = createRequire(import.meta.url);
const sdkLib = dirname(require.resolve("@0gfoundation/0g-compute-ts-sdk"));
const sdkUtils = require(join(sdkLib, "common/utils/index.js")) as {
  signRequest(signer: unknown, user: string, nonce: bigint, datasetHash: string): Promise<string>;
  signTaskID(signer: unknown, taskId: string): Promise<string>;
  signDatasetUpload(signer: unknown, user: string, timestamp: number): Promise<string>;
};
const cjsEthers = require("ethers") as typeof import("ethers");

const key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const user = new Wallet(key).address;
const sdkSigner = new cjsEthers.Wallet(key);
const taskId = "26fc3c0e-f04c-417c-8b99-ed3fc5b15660";

describe("the SDK's signatures recover to the user with the provider's digests", () => {
  test("dataset upload, task creation, cancellation", async () => {
    const ts = 1_790_000_000;
    const upload = await sdkUtils.signDatasetUpload(sdkSigner, user, ts);
    expect(recoverDigestSigner(datasetUploadDigest(user, ts), upload, user)?.address).toBe(user);
    const datasetHash = `0x${"ab".repeat(32)}`;
    const create = await sdkUtils.signRequest(sdkSigner, user, 17_900_000_000_000_040n, datasetHash);
    const signer = recoverDigestSigner(
      createTaskDigest(user, 17_900_000_000_000_040n, datasetHash),
      create,
      user,
    );
    expect(signer?.address).toBe(user);
    expect(signer?.publicKey).toBe(new Wallet(key).signingKey.publicKey); // ECIES target of the model key
    const cancel = await sdkUtils.signTaskID(sdkSigner, taskId);
    expect(recoverDigestSigner(cancelTaskDigest(taskId), cancel, user)?.address).toBe(user);
  });

  test("SDK quirk: toBeArray drops a digest's leading zero byte; both forms are accepted", async () => {
    let nonce = 1n;
    while (getBytes(createTaskDigest(user, nonce, "0xdata"))[0] !== 0) nonce++;
    const digest = createTaskDigest(user, nonce, "0xdata");
    const sdkSig = await sdkUtils.signRequest(sdkSigner, user, nonce, "0xdata"); // over 31 bytes
    const goSig = signDigest(key, digest); // over all 32 bytes, what the Go broker checks
    expect(sdkSig).not.toBe(goSig);
    expect(recoverDigestSigner(digest, sdkSig, user)?.address).toBe(user);
    expect(recoverDigestSigner(digest, goSig, user)?.address).toBe(user);
  });
});

describe("recoverDigestSigner refuses without throwing", () => {
  const digest = datasetUploadDigest(user, 1);
  const good = signDigest(key, digest);
  test.each([
    ["another signer expected", good, Wallet.createRandom().address],
    ["another digest", signDigest(key, datasetUploadDigest(user, 2)), user],
    ["not a string", 42, user],
    ["not hex", `0x${"zz".repeat(65)}`, user],
    ["64 bytes", good.slice(0, -2), user],
    ["66 bytes", `${good}00`, user],
    ["v = 29", `${good.slice(0, -2)}1d`, user],
    ["r = 0", `0x${"00".repeat(32)}${good.slice(66)}`, user],
  ])("%s", (_name, sig, expected) => {
    expect(recoverDigestSigner(digest, sig, expected)).toBeUndefined();
  });
  test("v = 0/1 (go-ethereum crypto.Sign) is accepted", () => {
    const v01 = hexlify(
      Uint8Array.from([...getBytes(good).subarray(0, 64), (getBytes(good)[64] ?? 27) - 27]),
    );
    expect(recoverDigestSigner(digest, v01, user)?.address).toBe(user);
  });
});

test("sameUser: every spelling of one address, never two unparseable strings", () => {
  expect(sameUser(user, user.toLowerCase())).toBe(true);
  expect(sameUser(user, `0x${user.slice(2).toUpperCase()}`)).toBe(true);
  expect(sameUser(user, user.slice(2))).toBe(true);
  expect(sameUser(user, Wallet.createRandom().address)).toBe(false);
  expect(sameUser("0xOther", "0xOther")).toBe(false);
  expect(sameUser(user, `${user}/../..`)).toBe(false);
});

test("uuidBytes: 16 bytes of a canonical UUID, RangeError otherwise", () => {
  expect(hexlify(uuidBytes(taskId))).toBe(`0x${taskId.replace(/-/g, "")}`);
  expect(() => uuidBytes("../etc/passwd")).toThrow(RangeError);
});
