import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { createCollateral } from "./create-collateral.js";
import { createTdxQuote } from "./create-tdx-quote.js";
import { createTestPki } from "./create-test-pki.js";

const require = createRequire(import.meta.url);
const { QuoteVerifier, Quote } = require("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");

const now = 1751624191;

describe("createTdxQuote", () => {
  const pki = createTestPki({ seed: "quote-test" });
  const collateral = createCollateral({ pki, now });
  const verifier = QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer));

  it.each([4, 5] as const)("v%i verifies with dcap-qvl under the test root", (version) => {
    const reportData = new Uint8Array(64).fill(0xab);
    const quote = createTdxQuote({ pki, reportData, version });
    const result = verifier.verify(quote, collateral, now);
    expect(result.status).toBe("UpToDate");
    expect(result.advisory_ids).toEqual([]);
    const td = result.report.asTd10();
    expect(Buffer.from(td?.reportData ?? []).equals(Buffer.from(reportData))).toBe(true);
    expect(Quote.parse(quote).header.version).toBe(version);
  });

  it("is rejected under Intel's root", () => {
    const quote = createTdxQuote({ pki, reportData: new Uint8Array(64) });
    expect(() => QuoteVerifier.newProd().verify(quote, collateral, now)).toThrow();
  });

  it("is deterministic for a seed", () => {
    const a = createTdxQuote({ pki: createTestPki({ seed: "s" }), reportData: new Uint8Array(64) });
    const b = createTdxQuote({ pki: createTestPki({ seed: "s" }), reportData: new Uint8Array(64) });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it("reports the TCB status and advisories of the collateral", () => {
    const c = createCollateral({ pki, now, tcbStatus: "SWHardeningNeeded", advisoryIds: ["INTEL-SA-00615"] });
    const r = verifier.verify(createTdxQuote({ pki, reportData: new Uint8Array(64) }), c, now);
    expect(r.status).toBe("SWHardeningNeeded");
    expect(r.advisory_ids).toEqual(["INTEL-SA-00615"]);
  });

  it("revoked PCK serial is rejected by dcap-qvl", () => {
    const c = createCollateral({ pki, now, revokedSerials: [pki.pck.serial] });
    expect(() => verifier.verify(createTdxQuote({ pki, reportData: new Uint8Array(64) }), c, now)).toThrow(
      /revoked/,
    );
  });
});
