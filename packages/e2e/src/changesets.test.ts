import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** scripts/check-changesets.mjs (run by .ci/run) in a scratch git repository shaped like ours. */
const repo = fileURLToPath(new URL("../../../", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "zerog-changesets-"));
const git = (...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
    cwd: scratch,
    encoding: "utf8",
  });
function write(file: string, text: string) {
  mkdirSync(dirname(join(scratch, file)), { recursive: true });
  writeFileSync(join(scratch, file), text);
}
function check() {
  const res = spawnSync(process.execPath, ["scripts/check-changesets.mjs", "HEAD~1"], {
    cwd: scratch,
    encoding: "utf8",
  });
  return { code: res.status, out: `${res.stdout}${res.stderr}` };
}
function commit(message: string) {
  git("add", "-A");
  git("commit", "-qm", message);
}

beforeAll(() => {
  for (const f of ["toolchain.mjs", "published.mjs", "check-changesets.mjs"]) {
    mkdirSync(join(scratch, "scripts"), { recursive: true });
    copyFileSync(join(repo, "scripts", f), join(scratch, "scripts", f));
  }
  copyFileSync(join(repo, "package.json"), join(scratch, "package.json"));
  write("packages/lib/package.json", JSON.stringify({ name: "@x/lib", version: "1.0.0" }));
  write("packages/lib/src/index.ts", "export const a = 1;\n");
  write("apps/tool/package.json", JSON.stringify({ name: "@x/tool", version: "1.0.0", private: true }));
  write("apps/tool/src/index.ts", "export const b = 1;\n");
  git("init", "-q");
  commit("start");
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("check-changesets", () => {
  it("fails when a published package's shipped file changed without a changeset naming it", () => {
    write("packages/lib/src/index.ts", "export const a = 2;\n");
    commit("change lib");
    const r = check();
    expect(r.code).toBe(1);
    expect(r.out).toContain("@x/lib changed (packages/lib/src/index.ts) without a changeset");
  });

  it("passes when the change comes with a changeset for that package", () => {
    write("packages/lib/src/index.ts", "export const a = 3;\n");
    write(".changeset/lib-three.md", '---\n"@x/lib": patch\n---\n\na is 3.\n');
    commit("change lib with a changeset");
    expect(check()).toMatchObject({ code: 0 });
  });

  it("a changeset for another package does not count", () => {
    write("packages/lib/src/index.ts", "export const a = 4;\n");
    write(".changeset/other.md", '---\n"@x/other": patch\n---\n\nunrelated.\n');
    commit("change lib, changeset for another");
    expect(check().code).toBe(1);
  });

  it("tests, snapshots and private packages need none", () => {
    write("packages/lib/src/index.test.ts", "// a test\n");
    write("packages/lib/test/fixture.json", "{}\n");
    write("apps/tool/src/index.ts", "export const b = 2;\n");
    commit("tests and a private package");
    expect(check()).toMatchObject({ code: 0 });
  });
});
