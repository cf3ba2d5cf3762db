import { blocked, type Check, fail, pass } from "../check.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

const NAME = "result.output";

/** `result.output`: a result's `output` is exactly the assistant text of the signed response (choice 0). */
export function resultOutput(ctx: ProofContext): Check {
  if (!proofOf(ctx)) return blockedByFormat(NAME);
  const claimed = ctx.output ?? "";
  if (!ctx.response) return blocked(NAME, "response.bodies");
  if (!ctx.response.ok)
    return fail(
      NAME,
      "output_mismatch",
      `the signed response body has no chat completion text: ${ctx.response.message}`,
    );
  const signed = ctx.response.value.output;
  return signed === claimed
    ? pass(NAME, "the result's output is exactly the text of the signed response", {
        format: ctx.response.value.format,
      })
    : fail(NAME, "output_mismatch", "the result's output differs from the text of the signed response", {
        outputLength: claimed.length,
        signedLength: signed.length,
      });
}
