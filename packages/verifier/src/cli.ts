import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { runCli } from "./run-cli.js";

/** At most `maxBytes` + 1 bytes of `path` (one more tells the caller the file is larger): never the whole of /dev/zero. */
async function readAtMost(path: string, maxBytes: number): Promise<Uint8Array> {
  const file = await open(path, "r");
  try {
    const buf = new Uint8Array(Math.min(maxBytes + 1, 1024 * 1024));
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (total <= maxBytes) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, maxBytes + 1 - total), null);
      if (bytesRead === 0) break;
      chunks.push(buf.slice(0, bytesRead));
      total += bytesRead;
    }
    return Buffer.concat(chunks, total);
  } finally {
    await file.close();
  }
}

// Thin entry point of the `zerog-verify` bin: real argv, files, stdout and clock.
const argv = process.argv.slice(2);
if (argv[0] === "--version" || argv[0] === "-V") {
  const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`zerog-verify ${version}\n`);
  process.exit(0);
}
process.exitCode = await runCli(argv, {
  readFile: readAtMost,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  now: () => Math.floor(Date.now() / 1000),
});
