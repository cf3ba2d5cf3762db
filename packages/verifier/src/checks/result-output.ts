import { blocked, type Check, fail, pass } from "../check.js";
import type { NormalizedFineTuningDelivery } from "../normalize-proof.js";
import { blockedByFormat, type ProofContext, proofOf, signedResponse } from "../proof-context.js";

const NAME = "result.output";

/**
 * `result.output`: a result's `output` is exactly the assistant text of the signed response (choice 0); for
 * fine-tuning, the artifact reference `{"path", "sha256", "size"}` of the delivery's decrypted model.
 */
export function resultOutput(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(NAME);
  const claimed = ctx.output ?? "";
  if (p.fineTuning) return artifactReference(claimed, p.fineTuning);
  if (!ctx.response) return blocked(NAME, "response.bodies");
  const response = signedResponse(ctx);
  if (!response) return blocked(NAME, "response.signature");
  if (!response.ok)
    return fail(
      NAME,
      "output_mismatch",
      `the signed response body has no chat completion text: ${response.message}`,
    );
  const signed = response.value.output;
  return signed === claimed
    ? pass(NAME, "the result's output is exactly the text of the signed response", {
        format: response.value.format,
      })
    : fail(NAME, "output_mismatch", "the result's output differs from the text of the signed response", {
        outputLength: claimed.length,
        signedLength: signed.length,
      });
}

/** A fine-tuning result's output: JSON naming the decrypted model by the delivery's sha256 and size. */
function artifactReference(output: string, d: NormalizedFineTuningDelivery): Check {
  let ref: unknown;
  try {
    ref = JSON.parse(output);
  } catch {
    return fail(
      NAME,
      "output_mismatch",
      'the output is not the JSON artifact reference {"path", "sha256", "size"}',
    );
  }
  const r = (typeof ref === "object" && ref !== null ? ref : {}) as Record<string, unknown>;
  if (
    typeof r.path !== "string" ||
    r.sha256 !== d.artifactSha256 ||
    String(r.size) !== d.artifactSize.toString()
  )
    return fail(
      NAME,
      "output_mismatch",
      "the output does not name the delivered model (its sha256 and size)",
      {
        sha256: typeof r.sha256 === "string" ? r.sha256.slice(0, 64) : undefined,
      },
    );
  return pass(NAME, `the output names the delivered model by its sha256 and size (${d.artifactSize} bytes)`, {
    path: r.path.slice(0, 4096),
  });
}
