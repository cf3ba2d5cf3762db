// The packages published to npm, and the files of a change that make it a change to one of them.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./toolchain.mjs";

/** `{ name, dir }` of every workspace package that is not private. */
export function publishedPackages() {
  return ["packages", "apps"].flatMap((group) =>
    readdirSync(join(root, group), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) => {
        const dir = join(group, d.name);
        let manifest;
        try {
          manifest = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
        } catch {
          return [];
        }
        return manifest.private ? [] : [{ name: manifest.name, dir }];
      }),
  );
}

/** Whether a changed file (repo-relative) ships to users: not a test, snapshot, fixture or bench. */
export function ships(file) {
  return (
    !/(^|\/)(test|tests|bench|__snapshots__|test-results)\//.test(file) && !/\.test(-d)?\.ts$/.test(file)
  );
}
