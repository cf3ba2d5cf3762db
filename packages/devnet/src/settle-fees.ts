import { Contract, concat, keccak256, TypedDataEncoder, toUtf8Bytes, type Wallet } from "ethers";
import { DevnetError } from "./errors.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";

/** One billed request not yet settled on chain (the provider's `request` table row). */
export type UnsettledRequest = {
  /** The chat id (`ZG-Res-Key`), used as the request hash. */
  chatId: string;
  /** EIP-55 user address. */
  user: string;
  inputFee: bigint;
  outputFee: bigint;
  fee: bigint;
  createdAt: number;
};

/** Settlement status codes of `InferenceServing.settleFeesWithTEE` (enum SettlementStatus). */
export const SETTLEMENT_STATUS = [
  "SUCCESS",
  "PARTIAL",
  "PROVIDER_MISMATCH",
  "NO_TEE_SIGNER",
  "INVALID_NONCE",
  "INVALID_SIGNATURE",
] as const;
export type SettlementStatus = (typeof SETTLEMENT_STATUS)[number];

export type TeeSettlementData = {
  user: string;
  provider: string;
  totalFee: bigint;
  requestsHash: string;
  nonce: bigint;
  signature: string;
};

export type UserSettlementOutcome = {
  user: string;
  totalFee: bigint;
  status: SettlementStatus;
  /** Amount the contract could not take (PARTIAL / failures). */
  unsettledAmount: bigint;
  /** Chat ids settled by this call. */
  settledChatIds: string[];
};

export type SettleFeesReturnType = {
  txHash: string | undefined;
  outcomes: UserSettlementOutcome[];
};

/** EIP-712 types of the settlement ([contract] `SETTLEMENT_TYPEHASH`). */
export const TEE_SETTLEMENT_TYPES = {
  TEESettlement: [
    { name: "requestsHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "provider", type: "address" },
    { name: "user", type: "address" },
    { name: "totalFee", type: "uint256" },
  ],
};

/** EIP-712 domain of InferenceServing: name "0G Inference Serving", version "1". */
export function teeSettlementDomain(chainId: number | bigint, inference: string) {
  return { name: "0G Inference Serving", version: "1", chainId, verifyingContract: inference };
}

/**
 * `keccak256` over the concatenation, per request, of requestHash ‖ userAddress ‖ fee ‖ inputFee ‖
 * outputFee as decimal strings ([Go] settlement_tee.go hashUserRequests).
 */
export function hashUserRequests(requests: readonly UnsettledRequest[]): string {
  const parts = requests.map((r) =>
    toUtf8Bytes(`${r.chatId}${r.user}${r.fee.toString()}${r.inputFee.toString()}${r.outputFee.toString()}`),
  );
  return keccak256(parts.length > 0 ? concat(parts) : "0x");
}

/** Signs a settlement with the TEE key: EIP-712 digest, raw secp256k1 (no EIP-191 prefix). */
export function signTeeSettlement(
  teeWallet: Wallet,
  chainId: number | bigint,
  inference: string,
  data: Omit<TeeSettlementData, "signature">,
): string {
  const digest = TypedDataEncoder.hash(teeSettlementDomain(chainId, inference), TEE_SETTLEMENT_TYPES, {
    requestsHash: data.requestsHash,
    nonce: data.nonce,
    provider: data.provider,
    user: data.user,
    totalFee: data.totalFee,
  });
  return teeWallet.signingKey.sign(digest).serialized;
}

export type SettleFeesParameters = {
  /** The provider's on-chain account (sends the tx, receives the fees). */
  providerWallet: Wallet;
  /** The TEE signer registered as `teeSignerAddress` of the service. */
  teeWallet: Wallet;
  inference: string;
  chainId: number;
  requests: readonly UnsettledRequest[];
  /** Returns a nonce strictly greater than any used before ([Go] uses unix seconds × 1e7). */
  nextNonce: () => bigint;
};

function budgetSubset(requests: readonly UnsettledRequest[], budget: bigint): UnsettledRequest[] {
  const out: UnsettledRequest[] = [];
  let remaining = budget;
  for (const r of requests) {
    if (remaining < r.fee) break;
    out.push(r);
    remaining -= r.fee;
  }
  return out;
}

/**
 * Settles unsettled requests on chain like the provider broker ([Go] settlement_tee.go): groups by
 * user, builds one TEE-signed `TEESettlementData` per user, previews with
 * `previewSettlementResults`, shrinks partial settlements to what the balance covers, then sends
 * `settleFeesWithTEE` and reads the `TEESettlementResult` events.
 */
export async function settleFees(params: SettleFeesParameters): Promise<SettleFeesReturnType> {
  const { providerWallet, teeWallet, inference, chainId } = params;
  const provider = providerWallet.address;
  const contract = new Contract(inference, loadZeroGArtifacts().inference.abi, providerWallet);
  const byUser = new Map<string, UnsettledRequest[]>();
  for (const r of params.requests) {
    if (r.fee <= 0n) continue;
    const list = byUser.get(r.user) ?? [];
    list.push(r);
    byUser.set(r.user, list);
  }
  if (byUser.size === 0) return { txHash: undefined, outcomes: [] };

  const build = (user: string, reqs: UnsettledRequest[]): TeeSettlementData => {
    const unsigned = {
      user,
      provider,
      totalFee: reqs.reduce((s, r) => s + r.fee, 0n),
      requestsHash: hashUserRequests(reqs),
      nonce: params.nextNonce(),
    };
    return { ...unsigned, signature: signTeeSettlement(teeWallet, chainId, inference, unsigned) };
  };

  try {
    let batch = [...byUser].map(([user, reqs]) => ({ user, reqs, data: build(user, reqs) }));
    // Preview (a view call with msg.sender = provider) and adjust partial settlements.
    const preview = (await contract
      .getFunction("previewSettlementResults")
      .staticCall(batch.map((b) => b.data))) as {
      failedUsers: string[];
      failureReasons: bigint[];
      partialUsers: string[];
      partialAmounts: bigint[];
    };
    const failed = new Map(
      preview.failedUsers.map((u, i) => [u.toLowerCase(), preview.failureReasons[i] ?? 0n]),
    );
    const partial = new Map(
      preview.partialUsers.map((u, i) => [u.toLowerCase(), preview.partialAmounts[i] ?? 0n]),
    );
    const outcomes: UserSettlementOutcome[] = [];
    const executable: typeof batch = [];
    for (const b of batch) {
      const f = failed.get(b.user.toLowerCase());
      if (f !== undefined) {
        outcomes.push({
          user: b.user,
          totalFee: b.data.totalFee,
          status: SETTLEMENT_STATUS[Number(f)] ?? "INVALID_SIGNATURE",
          unsettledAmount: b.data.totalFee,
          settledChatIds: [],
        });
        continue;
      }
      const p = partial.get(b.user.toLowerCase());
      if (p !== undefined) {
        const subset = budgetSubset(b.reqs, b.data.totalFee - p);
        if (subset.length === 0) {
          outcomes.push({
            user: b.user,
            totalFee: b.data.totalFee,
            status: "PARTIAL",
            unsettledAmount: b.data.totalFee,
            settledChatIds: [],
          });
          continue;
        }
        executable.push({ user: b.user, reqs: subset, data: build(b.user, subset) });
        continue;
      }
      executable.push(b);
    }
    batch = executable;
    if (batch.length === 0) return { txHash: undefined, outcomes };

    const tx = await contract.getFunction("settleFeesWithTEE")(batch.map((b) => b.data));
    const receipt = await tx.wait();
    const results = new Map<string, { status: SettlementStatus; unsettled: bigint }>();
    for (const log of receipt?.logs ?? []) {
      let parsed: ReturnType<typeof contract.interface.parseLog> = null;
      try {
        parsed = contract.interface.parseLog(log);
      } catch {
        parsed = null;
      }
      if (parsed?.name !== "TEESettlementResult") continue;
      const user = String(parsed.args[0]).toLowerCase();
      results.set(user, {
        status: SETTLEMENT_STATUS[Number(parsed.args[1])] ?? "INVALID_SIGNATURE",
        unsettled: BigInt(parsed.args[2]),
      });
    }
    for (const b of batch) {
      const r = results.get(b.user.toLowerCase()) ?? { status: "SUCCESS" as const, unsettled: 0n };
      const settledAmount = b.data.totalFee - r.unsettled;
      const settled =
        r.status === "SUCCESS" ? b.reqs : r.status === "PARTIAL" ? budgetSubset(b.reqs, settledAmount) : [];
      outcomes.push({
        user: b.user,
        totalFee: b.data.totalFee,
        status: r.status,
        unsettledAmount: r.unsettled,
        settledChatIds: settled.map((s) => s.chatId),
      });
    }
    return { txHash: tx.hash as string, outcomes };
  } catch (cause) {
    throw new DevnetError("settleFeesWithTEE failed", {
      code: "SETTLEMENT_FAILED",
      details: `provider ${provider}, inference ${inference}`,
      cause,
    });
  }
}
