#!/usr/bin/env node
// V8 collects the old generation once it has grown by a factor it picks itself, up to 4× what
// survived the last full collection: the bridge's short-lived request garbage then piled up to twice
// its live heap. 1.5× keeps the peak close to what is live. It only sets when to collect, never a cap:
// a heap with more live data (large requests) still grows as far as it needs. `node
// --heap-growing-percent=N` chooses another factor. (README, "Memory".)
import { setFlagsFromString } from "node:v8";

if (!process.execArgv.some((flag) => /^--heap[-_]growing[-_]percent/.test(flag))) {
  setFlagsFromString("--heap-growing-percent=50");
}
await import("../dist/cli.js");
