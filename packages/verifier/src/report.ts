import { type Check, type CheckName, fail } from "./check.js";
import type { Policy } from "./policy.js";

/**
 * The checks as the policy requires them: under `strict` every skipped check fails with `check_skipped`,
 * and so does a skipped (or absent) check named in `requiredChecks`. Only names in `scope` (the steps of
 * this kind of verification) are required.
 */
export function applyRequirements(
  checks: Check[],
  policy: Pick<Policy, "strict" | "requiredChecks">,
  scope: readonly CheckName[] = checks.map((c) => c.name),
): Check[] {
  const required = new Set(policy.requiredChecks?.filter((n) => scope.includes(n)) ?? []);
  const out = checks.map((c) => {
    const mustRun = policy.strict || required.has(c.name);
    required.delete(c.name);
    if (c.status !== "skipped" || !mustRun) return c;
    return fail(
      c.name,
      "check_skipped",
      `skipped (${c.skipReason}: ${c.message}) but the policy requires it${policy.strict ? " (strict)" : ""}`,
      { skipReason: c.skipReason, ...c.details },
    );
  });
  for (const name of required)
    out.push(fail(name, "check_skipped", `the policy requires ${name}, which this input does not have`));
  return out;
}
