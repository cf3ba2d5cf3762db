import { createHash } from "node:crypto";
import { FailureReason } from "@chaoschain/zerog-core";
import {
  createTeeSimAttestation,
  type PccsSimulatorHandle,
  startPccsSimulator,
} from "@chaoschain/zerog-devnet";
import { createPcsCollateralSource, createVerificationCache } from "@chaoschain/zerog-verifier";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BackendError } from "./backend.js";
import { createQuoteGate } from "./quote-gate.js";
import type { ProviderAttestation } from "./zerog/provider-http.js";

const sim = createTeeSimAttestation({ seed: "quote-gate" });
const policy = { tee: { rootCaPem: sim.trust.rootCaPem }, gpu: { required: true, jwks: sim.trust.jwks } };
const signer = "0x1111111111111111111111111111111111111111";
const body = sim.source(signer, { models: ["m"], appCompose: "{}" }) as { quote: string };
const attestation = (json: Record<string, unknown>): ProviderAttestation => ({
  json,
  raw: new TextEncoder().encode(JSON.stringify(json)),
});
const genuine = attestation(body);
/** The same quote with one bit of its signature flipped (what the devnet's forgeQuote fault serves). */
const forgedQuote = Buffer.from(body.quote, "hex");
forgedQuote[636] = (forgedQuote[636] as number) ^ 1;
const forged = attestation({ ...body, quote: forgedQuote.toString("hex") });

let pccs: PccsSimulatorHandle;
beforeAll(async () => {
  pccs = await startPccsSimulator({ pki: sim.pki, now: sim.now });
});
afterAll(() => pccs.close());
afterEach(() => pccs.setFaults({}));

const gate = (o: { policy?: object; skipQuote?: boolean } = {}) =>
  createQuoteGate({
    source: createPcsCollateralSource({ url: pccs.url }),
    policy: o.policy ?? policy,
    skipQuote: o.skipQuote ?? false,
  });
const cache = createVerificationCache();

/** The BackendError `p` rejects with. */
const backendError = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("admitted");
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(BackendError);
      return e as BackendError;
    },
  );

describe("createQuoteGate", () => {
  it("admits a genuine quote with the exact collateral to embed, fetched once", async () => {
    const g = gate();
    const before = pccs.stats.tcb;
    const collateral = await g.admit(genuine, signer, "0xprovider", cache);
    await g.admit(genuine, signer, "0xprovider", cache);
    expect(pccs.stats.tcb - before).toBe(1);
    expect(collateral).toMatchObject({
      source_url: pccs.url,
      fmspc: pccs.fmspc,
      tcb_info: pccs.responses.tdx.tcbInfo.signed,
    });
    expect(g.checks).toEqual({
      quoteVerified: true,
      skipped: [],
      rootCaSha256: createHash("sha256").update(sim.trust.rootCaDer).digest("hex"),
    });
  });

  it("refuses a forged quote: proof_invalid, retryable (another provider may do)", async () => {
    const e = await backendError(gate().admit(forged, signer, "0xforger", cache));
    expect(e.reason).toBe(FailureReason.PROOF_INVALID);
    expect(e.retryable).toBe(true);
    expect(e.message).toMatch(
      /^the TEE attestation of provider 0xforger does not verify: quote.signature_chain: quote_signature_invalid/,
    );
  });

  it("under Intel's root (no policy), refuses the devnet's quote as chaining to an untrusted root", async () => {
    const e = await backendError(gate({ policy: {} }).admit(genuine, signer, "0xdevnet", cache));
    expect(e.message).toContain(
      "does not verify: quote.signature_chain: untrusted_root: the quote chains to an untrusted root CA",
    );
  });

  it("fails closed with collateral_unavailable when the PCCS cannot answer, naming the URL and status", async () => {
    pccs.setFaults({ status: 503, endpoints: ["pckCrl"] });
    const e = await backendError(gate().admit(genuine, signer, "0xprovider", cache));
    expect(e.reason).toBe(FailureReason.COLLATERAL_UNAVAILABLE);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain(
      `${pccs.url}/sgx/certification/v4/pckcrl?ca=platform&encoding=der: answered 503`,
    );
  });

  it("refuses a quote it cannot read", async () => {
    const e = await backendError(
      gate().admit(attestation({ ...body, quote: body.quote.slice(0, 200) }), signer, "0xprovider", cache),
    );
    expect(e.message).toMatch(/quote of provider 0xprovider is unusable: Invalid quote/);
  });

  it("--unsafe-skip-quote-verification: admits without collateral, recorded as skipped", async () => {
    const g = gate({ skipQuote: true });
    expect(await g.admit(forged, signer, "0xforger", cache)).toBeUndefined();
    expect(g.checks).toMatchObject({ quoteVerified: false, skipped: ["quote"] });
  });
});
