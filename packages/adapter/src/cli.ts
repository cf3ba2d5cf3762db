import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { runCli } from "./run-cli.js";

// Thin entry point of the `zerog` bin: real argv, environment, files, stdout and clock.
const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};
process.exitCode = await runCli(
  process.argv.slice(2),
  {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: process.stdout.isTTY === true,
    columns: process.stdout.columns,
    env: process.env,
    readFile: async (path) => new Uint8Array(await readFile(path)),
    writeFile: (path, text) => writeFile(path, text),
    now: () => Math.floor(Date.now() / 1000),
  },
  version,
);
