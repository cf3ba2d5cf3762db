import type { Check, CheckName } from "./check.js";

/** What {@link formatReport} reads of a `verifyProof` or `verifyQuote` report. */
export interface FormattableReport {
  ok: boolean;
  reason?: string | undefined;
  message?: string | undefined;
  checks: Check[];
  skipped?: CheckName[] | undefined;
  warnings?: Array<{ message: string }> | undefined;
  tcbStatus?: string | undefined;
  advisoryIds?: string[] | undefined;
}

const MARK = { pass: "ok  ", fail: "FAIL", skipped: "skip" } as const;

/** Control characters (C0, DEL, C1), line and paragraph separators and bidi controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * `text` with every control character escaped (`\n`, `\r`, `\t`, else `\uXXXX`): a report quotes attacker text
 * (a proof's fields), which must not move a terminal's cursor or print a line of its own.
 */
export function printable(text: string): string {
  return text.replace(
    UNPRINTABLE,
    (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A report as the `zerog-verify` CLI prints it: the verdict (`VALID <subject>` or
 * `INVALID <subject>: <reason>: <message>`), the TCB status, the checks that were not performed, the
 * warnings, then every check with its mark. Ends with a newline.
 *
 * @example
 * process.stdout.write(formatReport(await verifyProof(result, { now, policy }), "proof"));
 */
export function formatReport(report: FormattableReport, subject: string): string {
  const lines = [report.ok ? `VALID ${subject}` : `INVALID ${subject}: ${report.reason}: ${report.message}`];
  if (report.tcbStatus)
    lines.push(
      `  TCB status: ${report.tcbStatus}${report.advisoryIds?.length ? ` (${report.advisoryIds.join(", ")})` : ""}`,
    );
  const skipped = report.checks.filter((c) => c.status === "skipped");
  if (skipped.length > 0)
    lines.push(
      `  not checked (${skipped.length}): ${skipped.map((c) => `${c.name} (${c.skipReason})`).join(", ")}`,
    );
  for (const w of report.warnings ?? []) lines.push(`  warning: ${w.message}`);
  for (const c of report.checks) {
    const why = c.reason ?? c.skipReason;
    lines.push(`  ${MARK[c.status]} ${c.name}${why ? ` [${why}]` : ""}: ${c.message}`);
  }
  return `${lines.map(printable).join("\n")}\n`;
}
