import type { BaseContractMethod } from "ethers";

/**
 * Replays a failed transaction as a static call to name the contract's custom error: ganache drops the
 * revert data from receipts, and ethers' `estimateGas` loses it ("missing revert data").
 *
 * @example
 * await describeRevert(contract.getFunction("addDeliverable"), [user, id, hash]) // "PreviousDeliverableNotAcknowledged(…)"
 */
export async function describeRevert(method: BaseContractMethod, args: readonly unknown[]): Promise<string> {
  return method.staticCall(...args).then(
    () => "no revert on replay",
    (e: { revert?: { name?: string; args?: unknown[] }; shortMessage?: string }) =>
      e.revert?.name
        ? `${e.revert.name}(${(e.revert.args ?? []).join(", ")})`
        : (e.shortMessage ?? "unknown"),
  );
}
