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
  return `${lines.join("\n")}\n`;
}
