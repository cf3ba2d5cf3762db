// Bundled by test/browser.test.ts for headless Chromium.
import dcap from "@phala/dcap-qvl";
import * as verifier from "../src/index.js";

(globalThis as unknown as Record<string, unknown>).zerog = { ...verifier, dcapIsBrowser: dcap.isBrowser };
