// Bundled for headless Chromium by browser.test.ts: the adapter's browser entry and the verifier.
import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter/browser";
import { verifyProof } from "@chaoschain/zerog-verifier";

(globalThis as unknown as Record<string, unknown>).zerog = { ZeroGComputeAdapter, verifyProof };
