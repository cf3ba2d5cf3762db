import { type Check, fail, pass, skip } from "../check.js";
import type { ProofContext } from "../proof-context.js";
import { isCheck, teeQuote } from "./tee-common.js";

/** `tee.type`: the proof's claimed `tee_type`, when set, is the quote's. */
export function teeType(ctx: ProofContext): Check {
  const q = teeQuote(ctx, "tee.type");
  if (isCheck(q)) return q;
  const claimed = (ctx.proof.ok ? ctx.proof.value.tee?.teeType : "") ?? "";
  if (claimed === "")
    return skip(
      "tee.type",
      "not_required",
      `no tee_type claimed: nothing to compare (the quote is ${q.teeType})`,
    );
  return claimed.toLowerCase() === q.teeType
    ? pass("tee.type", `tee_type ${q.teeType} is the quote's`, { claimed: true })
    : fail("tee.type", "quote_invalid", `proof says tee_type ${claimed}, the quote is ${q.teeType}`);
}
