#!/usr/bin/env node
// Makes a fresh clone runnable with nothing but Node and npm: installs the workspace with the
// pinned pnpm and builds every package.
import { setup } from "./setup-steps.mjs";

process.exit(setup());
