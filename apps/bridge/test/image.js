// The Node flags the Docker image runs the bridge with (the repository's Dockerfile, ENTRYPOINT), for
// the tests and the benchmark to run the bridge process as deployed. Plain JS: the benchmark uses it too.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The flags (`--…`) of the ENTRYPOINT of `<root>/Dockerfile`; none when there is no Dockerfile. */
export function imageNodeArgs(root) {
  const dockerfile = join(root, "Dockerfile");
  if (!existsSync(dockerfile)) return [];
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(dockerfile, "utf8"))?.[1];
  return entrypoint ? JSON.parse(entrypoint).filter((arg) => arg.startsWith("--")) : [];
}
