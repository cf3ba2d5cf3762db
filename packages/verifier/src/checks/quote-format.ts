import { type Check, fail, pass } from "../check.js";
import type { QuoteContext } from "../quote-context.js";

/** `quote.format`: the quote parses strictly (sizes, layout, exactly three PCK certificates in strict PEM). */
export function quoteFormat(ctx: QuoteContext): Check {
  if (!ctx.parse.ok) return fail("quote.format", ctx.parse.reason, ctx.parse.message);
  const q = ctx.parse.quote;
  return pass(
    "quote.format",
    `${q.teeType.toUpperCase()} quote v${q.version} (${q.bodyType}), strict PCK chain of 3 certificates`,
    { version: q.version, teeType: q.teeType, bodyType: q.bodyType },
  );
}
