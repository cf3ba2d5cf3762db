import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { runCli } from "./run-cli.js";

// Thin entry point of the `zerog-verify` bin: real argv, files, stdout and clock.
const argv = process.argv.slice(2);
if (argv[0] === "--version" || argv[0] === "-V") {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`zerog-verify ${version}\n`);
  process.exit(0);
}
process.exitCode = await runCli(argv, {
  readFile: async (path) => new Uint8Array(await readFile(path)),
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  now: () => Math.floor(Date.now() / 1000),
});
