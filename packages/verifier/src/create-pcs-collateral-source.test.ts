import { type PccsSimulatorHandle, startPccsSimulator } from "@chaoschain/zerog-devnet";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeFixture, NOW, pki } from "../test/fixtures.js";
import {
  CollateralFetchError,
  createCollateralSource,
  createPcsCollateralSource,
  InvalidInputError,
  readCollateralRequest,
  verifyProof,
  verifyQuote,
} from "./index.js";

const fx = makeFixture();
const quote = fx.result.proof.attestation as Uint8Array;
const request = readCollateralRequest(quote, NOW);
const policy = { tee: { rootCaDer: pki.rootCaDer } };
/** The simulator's collateral is valid for 15 days after NOW. */
const NEXT_UPDATE = NOW + 15 * 86400;

let pccs: PccsSimulatorHandle;
let base: Record<string, number>;
beforeAll(async () => {
  pccs = await startPccsSimulator({ pki, now: NOW });
});
afterAll(() => pccs.close());
beforeEach(() => {
  base = { ...pccs.stats };
});
afterEach(() => pccs.setFaults({}));
/** Requests per endpoint since the test began. */
const served = () => Object.fromEntries(Object.entries(pccs.stats).map(([k, v]) => [k, v - (base[k] ?? 0)]));

describe("createPcsCollateralSource", () => {
  it("verifies quotes and proofs, fetching once per platform", async () => {
    const source = createPcsCollateralSource({ url: pccs.url });
    expect((await verifyQuote(quote, source, { now: NOW, policy })).ok).toBe(true);
    expect((await verifyQuote(quote, source, { now: NOW + 60, policy })).ok).toBe(true);
    expect((await verifyProof(fx.result, { now: NOW, policy: fx.policy, collateral: source })).ok).toBe(true);
    expect(served()).toEqual({ tcb: 1, qeIdentity: 1, pckCrl: 1, rootCaCrl: 1 });
    expect(source.size()).toBe(1);
  });

  it("is keyed by what was asked: TEE type, FMSPC and CA", async () => {
    const source = createPcsCollateralSource({ url: pccs.url });
    await source.getCollateral(request);
    await source.getCollateral({ ...request, ca: "processor" });
    await source.getCollateral({ ...request, teeType: "sgx" });
    await source.getCollateral({ ...request, fmspc: request.fmspc.toLowerCase() }); // same platform
    expect(served().tcb).toBe(3);
    expect(source.size()).toBe(3);
  });

  it("shares one fetch between concurrent requests", async () => {
    const source = createPcsCollateralSource({ url: pccs.url });
    const all = await Promise.all(Array.from({ length: 5 }, () => source.getCollateral(request)));
    expect(new Set(all).size).toBe(1);
    expect(served().tcb).toBe(1);
  });

  it("is bounded by nextUpdate: past it, it asks again (and refuses the now expired answer)", async () => {
    const source = createPcsCollateralSource({ url: pccs.url, ttlSeconds: 10 * 365 * 86400 });
    await source.getCollateral(request);
    await source.getCollateral({ ...request, now: NEXT_UPDATE - 1 });
    expect(served().tcb).toBe(1);
    await expect(source.getCollateral({ ...request, now: NEXT_UPDATE })).rejects.toSatisfy(
      (e) => e instanceof CollateralFetchError && e.kind === "expired",
    );
    expect(served().tcb).toBe(2);
  });

  it("is bounded by ttlSeconds", async () => {
    const source = createPcsCollateralSource({ url: pccs.url, ttlSeconds: 60 });
    await source.getCollateral(request);
    await source.getCollateral({ ...request, now: NOW + 59 });
    await source.getCollateral({ ...request, now: NOW + 60 });
    expect(served().tcb).toBe(2);
  });

  it("is bounded in size (least recently used dropped first)", async () => {
    const source = createPcsCollateralSource({ url: pccs.url, maxEntries: 2 });
    const a = request;
    const b = { ...request, ca: "processor" as const };
    const c = { ...request, teeType: "sgx" as const };
    await source.getCollateral(a);
    await source.getCollateral(b);
    await source.getCollateral(a); // a is now the most recently used
    await source.getCollateral(c); // drops b
    expect(source.size()).toBe(2);
    await source.getCollateral(a);
    expect(served().tcb).toBe(3);
    await source.getCollateral(b);
    expect(served().tcb).toBe(4);
    source.clear();
    expect(source.size()).toBe(0);
  });

  it("does not cache failures", async () => {
    const source = createPcsCollateralSource({ url: pccs.url });
    pccs.setFaults({ status: 503, endpoints: ["tcb"] });
    await expect(source.getCollateral(request)).rejects.toBeInstanceOf(CollateralFetchError);
    pccs.setFaults({});
    await source.getCollateral(request);
    expect(served().tcb).toBe(2);
  });

  it("makes verifyQuote throw the fetch error (collateral unavailable is not an invalid quote)", async () => {
    const source = createPcsCollateralSource({ url: pccs.url });
    pccs.setFaults({ status: 500 });
    await expect(verifyQuote(quote, source, { now: NOW, policy })).rejects.toSatisfy(
      (e) => e instanceof CollateralFetchError && e.status === 500 && e.code === "collateral_unavailable",
    );
  });

  it("exposes its URLs and validates its options up front", () => {
    const intel = createPcsCollateralSource();
    expect(intel.url).toBe("https://api.trustedservices.intel.com");
    expect(intel.rootCaCrlUrl).toBe("https://certificates.trustedservices.intel.com/IntelSGXRootCA.der");
    const own = createPcsCollateralSource({ url: `${pccs.url}/` });
    expect(own.rootCaCrlUrl).toBe(`${pccs.url}/sgx/certification/v4/rootcacrl`);
    expect(() => createPcsCollateralSource({ maxEntries: 0 })).toThrow(InvalidInputError);
    expect(() => createPcsCollateralSource({ url: "javascript:alert(1)" })).toThrow(InvalidInputError);
  });
});

describe("createCollateralSource", () => {
  it("does not cache collateral that is already expired at the request's time", async () => {
    let calls = 0;
    const source = createCollateralSource({
      fetch: () => {
        calls++;
        return fx.collateral;
      },
    });
    const late = { ...request, now: NOW + 365 * 86400 };
    await source.getCollateral(late);
    await source.getCollateral(late);
    expect(calls).toBe(2);
    expect(source.size()).toBe(0);
  });
});
