import { createHash, createPublicKey, verify, X509Certificate } from "node:crypto";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Devnet, startDevnet } from "./start-devnet.js";

const require = createRequire(import.meta.url);
const qvl = require("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");

let devnet: Devnet;
beforeAll(async () => {
  devnet = await startDevnet();
});
afterAll(async () => {
  await devnet?.close();
});

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("hex");

describe("the devnet's policy and PCCS verify every provider's attestation", () => {
  test("plain JSON with the documented fields", () => {
    const policy = devnet.policy;
    expect(policy).toBeDefined();
    expect(JSON.parse(JSON.stringify(policy))).toEqual(policy);
    expect(Object.keys(policy ?? {}).sort()).toEqual(["dockerDigests", "gpu", "tee"]);
    expect(policy?.tee.rootCaPem).toBe(devnet.trust?.rootCaPem);
    expect(policy?.gpu).toEqual({
      required: true,
      jwks: devnet.trust?.jwks,
      issuers: ["https://nras.attestation.nvidia.com"],
    });
    // 3 inference providers (2 distinct workloads) + 1 fine-tuning provider.
    expect(policy?.dockerDigests).toHaveLength(3);
  });

  test("each quote: collateral from the devnet PCCS, chain to the policy root, measurements and compose hash allowed, NRAS token signed", async () => {
    const policy = devnet.policy!;
    const root = new X509Certificate(policy.tee.rootCaPem);
    const urls = [...devnet.providers.map((p) => p.url), ...devnet.fineTuningProviders.map((p) => p.url)];
    expect(urls).toHaveLength(4);
    for (const url of urls) {
      const body = JSON.parse(await (await fetch(`${url}/v1/quote`)).text());
      const quote = Buffer.from(body.quote, "hex");
      const collateral = await qvl.getCollateral(devnet.pccs!.url, quote);
      const report = qvl.QuoteVerifier.newWithRootCa(root.raw).verify(
        quote,
        collateral,
        Math.floor(Date.now() / 1000),
      );
      expect(report.status).toBe("UpToDate");
      const td = report.report.asTd10();
      expect(policy.tee.mrtd).toContain(hex(td?.mrTd));
      expect(policy.tee.rtmr0).toContain(hex(td?.rtMr0));
      expect(policy.tee.rtmr1).toContain(hex(td?.rtMr1));
      expect(policy.tee.rtmr2).toContain(hex(td?.rtMr2));
      const compose = body.tcb_info.app_compose as string;
      const digest = `sha256:${createHash("sha256").update(compose).digest("hex")}`;
      expect(policy.dockerDigests).toContain(digest);
      const [h, p, s] = (body.nras_token as string).split(".");
      const key = createPublicKey({ key: { ...policy.gpu.jwks.keys[0] }, format: "jwk" });
      expect(
        verify(
          "sha384",
          Buffer.from(`${h}.${p}`),
          { key, dsaEncoding: "ieee-p1363" },
          Buffer.from(s ?? "", "base64url"),
        ),
      ).toBe(true);
    }
    expect(devnet.pccs?.stats.tcb).toBeGreaterThanOrEqual(4);
  });

  test("the Intel root does not verify a devnet quote", async () => {
    const body = JSON.parse(await (await fetch(`${devnet.providers[0]?.url}/v1/quote`)).text());
    const quote = Buffer.from(body.quote, "hex");
    const collateral = await qvl.getCollateral(devnet.pccs!.url, quote);
    expect(() =>
      qvl.QuoteVerifier.newProd().verify(quote, collateral, Math.floor(Date.now() / 1000)),
    ).toThrow();
  });
});
