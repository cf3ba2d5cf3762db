import { readFile } from "node:fs/promises";
import { runCli } from "./run-cli.js";

// Thin entry point of the `zerog-verify` bin: real argv, files, stdout and clock.
process.exitCode = await runCli(process.argv.slice(2), {
  readFile: async (path) => new Uint8Array(await readFile(path)),
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  now: () => Math.floor(Date.now() / 1000),
});
