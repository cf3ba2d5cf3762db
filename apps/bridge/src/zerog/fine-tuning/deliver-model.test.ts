import { fineTuningSettlementDigest } from "@chaoschain/zerog-verifier";
import { getBytes, hexlify, SigningKey, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { checkSettlement, type SettlementExpectation } from "./deliver-model.js";
import type { Deliverable, Settlement } from "./fine-tuning-contract.js";

const tee = Wallet.createRandom();
const user = Wallet.createRandom();
const contract = Wallet.createRandom().address;
const taskId = "2f1e7c1a-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
const deliverable: Deliverable = {
  id: taskId,
  modelRootHash: `0x${"11".repeat(32)}`,
  encryptedSecret: `0x${"22".repeat(97)}`,
  acknowledged: true,
  timestamp: 1n,
  settled: true,
};
const expected: SettlementExpectation = {
  chainId: 1337n,
  fineTuningContract: contract,
  teeSigner: tee.address,
  user: user.address,
  nonce: 17_000_000_000_000_000n,
};

/** A settlement the TEE really signed (EIP-712 VerifierMessage), for `nonce`. */
function settlement(nonce: bigint): Settlement {
  const fields = {
    id: taskId,
    encryptedSecret: deliverable.encryptedSecret,
    modelRootHash: deliverable.modelRootHash,
    nonce,
    taskFee: 10n,
    user: user.address,
  };
  const digest = fineTuningSettlementDigest({
    chainId: expected.chainId,
    fineTuningContract: contract,
    ...fields,
    encryptedSecret: getBytes(fields.encryptedSecret),
    modelRootHash: getBytes(fields.modelRootHash),
  });
  const signature = new SigningKey(tee.privateKey).sign(hexlify(digest)).serialized;
  return { txHash: `0x${"33".repeat(32)}`, ...fields, signature };
}

describe("checkSettlement", () => {
  it("accepts the TEE's settlement of this job's own task", () => {
    expect(() => checkSettlement(expected, settlement(expected.nonce!), deliverable)).not.toThrow();
  });

  it("refuses a TEE-signed settlement of another task of this wallet (another nonce): a provider swapped the task", () => {
    expect(() => checkSettlement(expected, settlement(expected.nonce! - 1n), deliverable)).toThrow(
      /is not the TEE's signature over this delivery .*nonce 16999999999999999, this job's task 17000000000000000/,
    );
  });
});
