import { createPublicKey, verify, X509Certificate } from "node:crypto";
import { createRequire } from "node:module";
import { createDstackAttestation, createTestPki } from "@chaoschain/zerog-tee-sim";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { createPcsResponses } from "./pcs-responses.js";
import { type PccsSimulatorHandle, startPccsSimulator } from "./start-pccs-simulator.js";
import { createTeeSimAttestation } from "./tee-sim-attestation.js";

// A third-party client: dcap-qvl's own PCCS collateral fetcher (collateral.js, ported from collateral.rs).
const require = createRequire(import.meta.url);
const qvl = require("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");

const now = 1_790_000_000;
const pki = createTestPki({ seed: "pccs-test" });
const quote = createDstackAttestation({
  pki,
  signingAddress: "0x1111111111111111111111111111111111111111",
  binding: "address-ascii",
  appCompose: "{}",
  now,
}).quote;
let pccs: PccsSimulatorHandle;

beforeAll(async () => {
  pccs = await startPccsSimulator({ pki, now });
});
afterEach(() => pccs.setFaults({}));
afterAll(async () => {
  await pccs.close();
});

const get = (path: string, init?: RequestInit) => fetch(`${pccs.url}${path}`, init);
const certs = (pemChain: string) =>
  (pemChain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map(
    (p) => new X509Certificate(p),
  );
const root = new X509Certificate(pki.rootCaPem);

/** The text between `{"<key>":` and `,"signature":"…"}`: what Intel signed, as served. */
function signedPart(body: string, key: string): { signed: string; signature: string } {
  const prefix = `{"${key}":`;
  const m = /,"signature":"([0-9a-f]+)"}$/.exec(body);
  expect(body.startsWith(prefix)).toBe(true);
  return { signed: body.slice(prefix.length, m?.index), signature: m?.[1] ?? "" };
}

/** P-256 ECDSA (r ‖ s) over SHA-256 of `data`, with the public key of `cert`. */
function verifiesWith(cert: X509Certificate, data: Uint8Array, rs: Buffer): boolean {
  return verify("sha256", data, { key: cert.publicKey, dsaEncoding: "ieee-p1363" }, rs);
}

/** tbsCertList and signature of a DER CRL (SEQUENCE { tbs, algorithm, BIT STRING }). */
function crlParts(der: Buffer): { tbs: Buffer; signature: Buffer } {
  const readLength = (at: number): [number, number] => {
    const first = der[at] ?? 0;
    if (first < 0x80) return [first, at + 1];
    const n = first & 0x7f;
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[at + 1 + i] ?? 0);
    return [len, at + 1 + n];
  };
  const [, body] = readLength(1);
  const [tbsLen, tbsBody] = readLength(body + 1);
  const tbs = der.subarray(body, tbsBody + tbsLen);
  const [algLen, algBody] = readLength(tbsBody + tbsLen + 1);
  const [sigLen, sigBody] = readLength(algBody + algLen + 1);
  return { tbs, signature: der.subarray(sigBody + 1, sigBody + sigLen) };
}

describe("endpoints, headers and signatures", () => {
  test.each(["tdx", "sgx"] as const)(
    "%s TCB info: exact signed JSON, TCB-Info-Issuer-Chain, signature under the root",
    async (tee) => {
      const res = await get(`/${tee}/certification/v4/tcb?fmspc=${pccs.fmspc.toLowerCase()}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(res.headers.get("request-id")).toMatch(/^[0-9a-f]{32}$/);
      const raw = res.headers.get("tcb-info-issuer-chain") ?? "";
      expect(raw).toMatch(/^-----BEGIN%20CERTIFICATE-----%0A/);
      const chain = certs(decodeURIComponent(raw));
      expect(chain).toHaveLength(2);
      expect(chain[1]?.raw.equals(root.raw)).toBe(true);
      expect(chain[0]?.verify(root.publicKey)).toBe(true);
      const body = await res.text();
      const { signed, signature } = signedPart(body, "tcbInfo");
      expect(
        verifiesWith(chain[0] as X509Certificate, Buffer.from(signed), Buffer.from(signature, "hex")),
      ).toBe(true);
      const info = JSON.parse(signed);
      expect(info).toMatchObject({
        id: tee.toUpperCase(),
        version: 3,
        fmspc: pccs.fmspc,
        tcbEvaluationDataNumber: 17,
      });
      expect("tdxModule" in info).toBe(tee === "tdx");
      expect(Date.parse(info.nextUpdate) / 1000).toBeGreaterThan(now);
    },
  );

  test.each([
    ["tdx", "TD_QE"],
    ["sgx", "QE"],
  ] as const)(
    "%s QE identity: SGX-Enclave-Identity-Issuer-Chain, signed enclaveIdentity",
    async (tee, id) => {
      const res = await get(`/${tee}/certification/v4/qe/identity?update=standard`);
      expect(res.status).toBe(200);
      const chain = certs(decodeURIComponent(res.headers.get("sgx-enclave-identity-issuer-chain") ?? ""));
      const { signed, signature } = signedPart(await res.text(), "enclaveIdentity");
      expect(
        verifiesWith(chain[0] as X509Certificate, Buffer.from(signed), Buffer.from(signature, "hex")),
      ).toBe(true);
      expect(JSON.parse(signed)).toMatchObject({ id, version: 2 });
    },
  );

  test("PCK CRL: DER or PEM, SGX-PCK-CRL-Issuer-Chain whose leaf signed it", async () => {
    for (const ca of ["processor", "platform"]) {
      const res = await get(`/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/pkix-crl");
      const chain = certs(decodeURIComponent(res.headers.get("sgx-pck-crl-issuer-chain") ?? ""));
      const { tbs, signature } = crlParts(Buffer.from(await res.arrayBuffer()));
      expect(verify("sha256", tbs, chain[0]?.publicKey ?? createPublicKey(pki.rootCaPem), signature)).toBe(
        true,
      );
      expect(chain[0]?.verify(root.publicKey)).toBe(true);
    }
    const pemRes = await get("/sgx/certification/v4/pckcrl?ca=platform");
    expect(pemRes.headers.get("content-type")).toBe("application/x-pem-file");
    expect(await pemRes.text()).toMatch(
      /^-----BEGIN X509 CRL-----\n[A-Za-z0-9+/=\n]+-----END X509 CRL-----\n$/,
    );
  });

  test("root CA CRL: PCCS path answers hex text, the Intel distribution-point path DER; signed by the root", async () => {
    const hex = await (await get("/sgx/certification/v4/rootcacrl")).text();
    expect(hex).toMatch(/^[0-9a-f]+$/);
    const der = Buffer.from(await (await get("/IntelSGXRootCA.der")).arrayBuffer());
    expect(der.equals(Buffer.from(hex, "hex"))).toBe(true);
    const { tbs, signature } = crlParts(der);
    expect(verify("sha256", tbs, root.publicKey, signature)).toBe(true);
  });

  test("dcap-qvl's collateral client fetches from it and the quote verifies under the test root", async () => {
    const collateral = await qvl.getCollateral(pccs.url, quote);
    const report = qvl.QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer)).verify(quote, collateral, now);
    expect(report.status).toBe("UpToDate");
    expect(collateral.tcb_info).toBe(pccs.responses.tdx.tcbInfo.signed);
    expect(pccs.stats).toMatchObject({
      tcb: expect.any(Number),
      qeIdentity: expect.any(Number),
      rootCaCrl: expect.any(Number),
    });
  });

  test("serves byte-for-byte the devnet's collateral (createTeeSimAttestation) for the same PKI and time", () => {
    const { trust, pki: devPki, now: devNow } = createTeeSimAttestation({ seed: "pccs-test", now });
    expect(devPki.rootCaPem).toBe(pki.rootCaPem);
    expect(createPcsResponses({ pki, now: devNow }).collateral.tdx).toEqual(trust.collateral);
  });
});

describe("request rules", () => {
  test.each([
    ["/tdx/certification/v4/tcb?fmspc=00906ED50000", 404], // an fmspc it has no TCB info for
    ["/tdx/certification/v4/tcb", 400],
    ["/tdx/certification/v4/tcb?fmspc=B0C06F", 400],
    ["/tdx/certification/v4/tcb?fmspc=ZZZZZZZZZZZZ", 400],
    ["/sgx/certification/v4/pckcrl", 400],
    ["/sgx/certification/v4/pckcrl?ca=other", 400],
    ["/sgx/certification/v4/pckcrl?ca=platform&encoding=base64", 400],
    ["/tdx/certification/v4/pckcrl?ca=platform", 404],
    ["/tdx/certification/v4/rootcacrl", 404],
    ["/sgx/certification/v4/pckcert", 404],
    ["/tdx/certification/v4/qe/identity?update=later", 400],
    ["/tdx/certification/v4/qe/identity?update=early", 200],
    ["/tdx/certification/v4/qe/identity?tcbEvaluationDataNumber=17", 200],
    ["/tdx/certification/v4/qe/identity?tcbEvaluationDataNumber=16", 410],
    ["/tdx/certification/v4/qe/identity?tcbEvaluationDataNumber=18", 404],
    ["/tdx/certification/v4/qe/identity?tcbEvaluationDataNumber=17&update=early", 400],
  ])("GET %s → %i", async (path, status) => {
    const res = await get(path.replace("B0C06F", pccs.fmspc.slice(0, 6)));
    expect(res.status).toBe(status);
    expect(res.headers.get("request-id")).toMatch(/^[0-9a-f]{32}$/);
    if (status !== 200) expect(await res.text()).toBe("");
  });

  test("a quote from a platform with another fmspc: dcap-qvl's fetch fails on the 404", async () => {
    const other = createTestPki({
      seed: "pccs-test",
      fmspc: Uint8Array.from([0x00, 0x90, 0x6e, 0xd5, 0, 0]),
    });
    const q = createDstackAttestation({
      pki: other,
      signingAddress: `0x${"22".repeat(20)}`,
      binding: "address-ascii",
      appCompose: "{}",
      now,
    }).quote;
    await expect(qvl.getCollateral(pccs.url, q)).rejects.toThrow("Failed to fetch TCB info: 404");
  });
});

describe("faults", () => {
  test("status: 5xx on the chosen endpoints only", async () => {
    pccs.setFaults({ status: 503, endpoints: ["tcb"] });
    expect((await get(`/tdx/certification/v4/tcb?fmspc=${pccs.fmspc}`)).status).toBe(503);
    expect((await get("/tdx/certification/v4/qe/identity")).status).toBe(200);
    pccs.setFaults({ status: 500 });
    await expect(qvl.getCollateral(pccs.url, quote)).rejects.toThrow("500");
  });

  test("hang: no answer until the client gives up; close() still returns", async () => {
    pccs.setFaults({ hang: true, endpoints: ["qeIdentity"] });
    await expect(
      get("/tdx/certification/v4/qe/identity", { signal: AbortSignal.timeout(150) }),
    ).rejects.toThrow(/timeout|aborted/i);
    const other = await startPccsSimulator({ pki, now, faults: { hang: true } });
    const pending = fetch(`${other.url}/sgx/certification/v4/rootcacrl`).catch((e: Error) => e);
    await other.close();
    expect(await pending).toBeInstanceOf(Error);
  });

  test("expired: validly signed, nextUpdate in the past; dcap-qvl refuses it at now", async () => {
    pccs.setFaults({ expired: true });
    const res = await get(`/tdx/certification/v4/tcb?fmspc=${pccs.fmspc}`);
    const chain = certs(decodeURIComponent(res.headers.get("tcb-info-issuer-chain") ?? ""));
    const { signed, signature } = signedPart(await res.text(), "tcbInfo");
    expect(
      verifiesWith(chain[0] as X509Certificate, Buffer.from(signed), Buffer.from(signature, "hex")),
    ).toBe(true);
    expect(Date.parse(JSON.parse(signed).nextUpdate) / 1000).toBeLessThan(now);
    const collateral = await qvl.getCollateral(pccs.url, quote);
    expect(() =>
      qvl.QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer)).verify(quote, collateral, now),
    ).toThrow();
  });

  test("issuerChainMismatch: the header's leaf did not sign the body", async () => {
    pccs.setFaults({ issuerChainMismatch: true });
    const res = await get(`/tdx/certification/v4/tcb?fmspc=${pccs.fmspc}`);
    const chain = certs(decodeURIComponent(res.headers.get("tcb-info-issuer-chain") ?? ""));
    expect(chain[0]?.verify(root.publicKey)).toBe(true); // a valid chain…
    const { signed, signature } = signedPart(await res.text(), "tcbInfo");
    expect(
      verifiesWith(chain[0] as X509Certificate, Buffer.from(signed), Buffer.from(signature, "hex")),
    ).toBe(false);
    const crl = await get("/sgx/certification/v4/pckcrl?ca=platform&encoding=der");
    const crlChain = certs(decodeURIComponent(crl.headers.get("sgx-pck-crl-issuer-chain") ?? ""));
    const { tbs, signature: crlSig } = crlParts(Buffer.from(await crl.arrayBuffer()));
    expect(verify("sha256", tbs, crlChain[0]?.publicKey ?? root.publicKey, crlSig)).toBe(false);
    const collateral = await qvl.getCollateral(pccs.url, quote);
    expect(() =>
      qvl.QuoteVerifier.newWithRootCa(Buffer.from(pki.rootCaDer)).verify(quote, collateral, now),
    ).toThrow();
  });
});
