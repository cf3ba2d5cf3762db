#!/usr/bin/env node
// `npm start`: sets up the workspace, then runs `zerog-bridge start` in this same process, so that a
// process manager's SIGTERM or SIGINT reaches the bridge itself and stops it gracefully. npm forwards
// signals to its script's shell, which `exec` (package.json) replaces with this process; should npm
// itself die without forwarding (SIGKILL), the bridge notices it was orphaned and stops too.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { setup } from "./setup-steps.mjs";
import { root } from "./toolchain.mjs";

const code = setup({ quiet: true });
if (code !== 0) process.exit(code);
process.argv = [
  process.argv[0],
  join(root, "apps/bridge/bin/zerog-bridge.js"),
  "start",
  ...process.argv.slice(2),
];
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, "SIGTERM");
}, 1000).unref();
await import(pathToFileURL(join(root, "apps/bridge/bin/zerog-bridge.js")).href);
