import { type Check, fail, pass } from "../check.js";
import { equalBytes } from "../internal/bytes.js";
import type { ProofContext } from "../proof-context.js";
import { expectedReportData } from "../report-data.js";
import { isCheck, teeQuote } from "./tee-common.js";

const NAME = "tee.report_data";

/** `tee.report_data`: the quote's REPORTDATA binds `enclave_address` in the claimed (or an allowed) encoding. */
export function teeReportData(ctx: ProofContext): Check {
  const q = teeQuote(ctx, NAME);
  if (isCheck(q)) return q;
  const p = ctx.proof.ok ? ctx.proof.value : undefined;
  if (!p) return fail(NAME, "proof_malformed", "no proof");
  if (p.tee && p.tee.reportData.length > 0 && !equalBytes(p.tee.reportData, q.reportData))
    return fail(
      NAME,
      "report_data_mismatch",
      "the proof's claimed report_data differs from the quote's REPORTDATA",
    );
  const allowed = ctx.policy.tee.reportDataBindings;
  const claimed = p.tee?.binding ?? "unspecified";
  const candidates = (claimed === "unspecified" ? allowed : [claimed]).filter(
    (b) => allowed.includes(b) && (b !== "enc-pub-v1" || p.tee?.encPubkey.length === 32),
  );
  const match =
    p.enclaveAddress === ""
      ? undefined
      : candidates.find((b) =>
          equalBytes(
            expectedReportData({ address: p.enclaveAddress, binding: b, encPubkey: p.tee?.encPubkey }),
            q.reportData,
          ),
        );
  if (!match)
    return fail(
      NAME,
      "report_data_mismatch",
      `quote REPORTDATA does not bind the enclave address in any allowed encoding (${candidates.join(", ") || "none"})`,
      { claimedBinding: claimed },
    );
  return pass(NAME, `quote REPORTDATA binds the enclave address ${p.enclaveAddress} (${match})`, {
    binding: match,
  });
}
