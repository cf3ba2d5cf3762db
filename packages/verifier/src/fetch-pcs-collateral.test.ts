import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type PccsSimulatorHandle, startPccsSimulator } from "@chaoschain/zerog-devnet";
import { p256 } from "@noble/curves/nist.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeFixture, NOW, pki } from "../test/fixtures.js";
import {
  CollateralFetchError,
  CollateralUnavailableError,
  fetchPcsCollateral,
  INTEL_PCS_URL,
  INTEL_ROOT_CA_CRL_URL,
  InvalidInputError,
  readCollateralRequest,
  verifyQuote,
} from "./index.js";

const fx = makeFixture();
const quote = fx.result.proof.attestation as Uint8Array;
const policy = { tee: { rootCaDer: pki.rootCaDer } };
const request = readCollateralRequest(quote, NOW);

let pccs: PccsSimulatorHandle;
beforeAll(async () => {
  pccs = await startPccsSimulator({ pki, now: NOW });
});
afterAll(() => pccs.close());
afterEach(() => pccs.setFaults({}));

/** The rejection of `p`, which must be a CollateralFetchError. */
async function fetchError(p: Promise<unknown>): Promise<CollateralFetchError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CollateralFetchError);
  return e as CollateralFetchError;
}

/** A fetch answering every URL with `respond(url)` (an attacker's PCCS). */
const fakeFetch =
  (respond: (url: string) => Response | Promise<Response>): typeof fetch =>
  async (input) =>
    respond(String(input));

describe("fetchPcsCollateral against the devnet's PCCS simulator", () => {
  it("asks for the quote's platform and returns exactly the bytes served", async () => {
    expect(request).toEqual({ teeType: "tdx", fmspc: pccs.fmspc, ca: "platform", now: NOW });
    const c = await fetchPcsCollateral(request, { url: pccs.url });
    const served = pccs.responses.collateral.tdx;
    expect(c).toEqual({
      pck_crl_issuer_chain: served.pck_crl_issuer_chain,
      root_ca_crl: served.root_ca_crl,
      pck_crl: served.pck_crl,
      tcb_info_issuer_chain: served.tcb_info_issuer_chain,
      tcb_info: pccs.responses.tdx.tcbInfo.signed,
      tcb_info_signature: served.tcb_info_signature,
      qe_identity_issuer_chain: served.qe_identity_issuer_chain,
      qe_identity: pccs.responses.tdx.qeIdentity.signed,
      qe_identity_signature: served.qe_identity_signature,
      fmspc: pccs.fmspc,
      pck_ca: "platform",
      source_url: pccs.url,
      fetch_time: NOW,
    });
    expect(c.root_ca_crl).toBe(bytesToHex(pccs.responses.rootCaCrl)); // the PCCS's hex text, decoded
    const report = await verifyQuote(quote, c, { now: NOW, policy });
    expect(report).toMatchObject({ ok: true, tcbStatus: "UpToDate" });
  });

  it("fetches SGX collateral from the sgx routes", async () => {
    const c = await fetchPcsCollateral({ ...request, teeType: "sgx", ca: "processor" }, { url: pccs.url });
    expect(c.tcb_info).toBe(pccs.responses.sgx.tcbInfo.signed);
    expect(c.qe_identity).toBe(pccs.responses.sgx.qeIdentity.signed);
    expect(c.pck_ca).toBe("processor");
  });

  it("accepts a base URL that ends in /sgx/certification/v4/", async () => {
    const c = await fetchPcsCollateral(request, { url: `${pccs.url}/sgx/certification/v4/` });
    expect(c.source_url).toBe(pccs.url);
  });

  it("asks Intel's PCS the v4 routes and the root CA's CRL distribution point", async () => {
    const asked: string[] = [];
    const viaSimulator = fakeFetch((url) => {
      asked.push(url);
      return fetch(
        url.replace(INTEL_PCS_URL, pccs.url).replace(INTEL_ROOT_CA_CRL_URL, `${pccs.url}/IntelSGXRootCA.der`),
      );
    });
    const c = await fetchPcsCollateral(request, { fetch: viaSimulator });
    expect(asked.sort()).toEqual(
      [
        `https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=${pccs.fmspc}`,
        "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity",
        "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
        "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der",
      ].sort(),
    );
    expect(c.root_ca_crl).toBe(bytesToHex(pccs.responses.rootCaCrl)); // DER as served
    expect(c.source_url).toBe(INTEL_PCS_URL);
  });

  it("404: names the URL, the status and the Request-ID", async () => {
    const e = await fetchError(fetchPcsCollateral({ ...request, fmspc: "00906ED50000" }, { url: pccs.url }));
    expect(e).toBeInstanceOf(CollateralUnavailableError);
    expect(e).toMatchObject({
      kind: "status",
      status: 404,
      url: `${pccs.url}/tdx/certification/v4/tcb?fmspc=00906ED50000`,
      code: "collateral_unavailable",
    });
    expect(e.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(e.shortMessage).toContain(`answered 404 Not Found (Request-ID ${e.requestId})`);
    expect(e.message).toContain("no TCB info for this FMSPC");
  });

  it.each([500, 503])("%i from one endpoint fails the whole fetch, naming that endpoint", async (status) => {
    pccs.setFaults({ status, endpoints: ["qeIdentity"] });
    const e = await fetchError(fetchPcsCollateral(request, { url: pccs.url }));
    expect(e).toMatchObject({ kind: "status", status, url: `${pccs.url}/tdx/certification/v4/qe/identity` });
  });

  it("a server that never answers times out", async () => {
    pccs.setFaults({ hang: true, endpoints: ["pckCrl"] });
    const e = await fetchError(fetchPcsCollateral(request, { url: pccs.url, timeoutMs: 300 }));
    expect(e).toMatchObject({
      kind: "timeout",
      url: `${pccs.url}/sgx/certification/v4/pckcrl?ca=platform&encoding=der`,
    });
    expect(e.shortMessage).toContain("no complete answer within 300 ms");
  });

  it("a body that never ends times out too", async () => {
    const endless = fakeFetch(() => new Response(new ReadableStream({ pull: () => new Promise(() => {}) })));
    const e = await fetchError(
      fetchPcsCollateral(request, { url: pccs.url, fetch: endless, timeoutMs: 200 }),
    );
    expect(e.kind).toBe("timeout");
  });

  it("collateral whose nextUpdate passed is refused as expired", async () => {
    pccs.setFaults({ expired: true });
    const e = await fetchError(fetchPcsCollateral(request, { url: pccs.url }));
    expect(e.kind).toBe("expired");
    expect(e.shortMessage).toMatch(/expired at .*\(nextUpdate\), before now/);
  });

  it("an issuer chain that did not sign its document is refused", async () => {
    pccs.setFaults({ issuerChainMismatch: true });
    const e = await fetchError(fetchPcsCollateral(request, { url: pccs.url }));
    expect(e.kind).toBe("issuer_chain_mismatch");
    expect(e.shortMessage).toMatch(/not signed by the first certificate of/);
  });

  it("a refused connection is a network error naming the URL", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const e = await fetchError(fetchPcsCollateral(request, { url: `http://127.0.0.1:${port}` }));
    expect(e.kind).toBe("network");
    expect(e.shortMessage).toContain(`GET http://127.0.0.1:${port}/`);
    expect(e.shortMessage).toContain("ECONNREFUSED");
  });
});

describe("fetchPcsCollateral against a hostile server", () => {
  /** The simulator's answers, with `edit` applied to the TCB info response. */
  const editTcb = (edit: (r: { body: string; headers: Headers }) => { body: string; headers: Headers }) =>
    fakeFetch(async (url) => {
      const res = await fetch(url);
      if (!url.includes("/tcb?")) return res;
      const { body, headers } = edit({ body: await res.text(), headers: new Headers(res.headers) });
      headers.delete("content-length");
      return new Response(body, { status: 200, headers });
    });

  it("keeps the signed text exactly as served (a pretty-printed TCB info still verifies)", async () => {
    const pretty = JSON.stringify(JSON.parse(pccs.responses.tdx.tcbInfo.signed), null, 2);
    const sig = p256.sign(utf8ToBytes(pretty), pki.tcbSigning.privateKey, {
      prehash: true,
      format: "compact",
    });
    const c = await fetchPcsCollateral(request, {
      url: pccs.url,
      fetch: editTcb(({ headers }) => ({
        body: `{\n  "tcbInfo": ${pretty},\n  "signature": "${bytesToHex(sig)}"\n}\n`,
        headers,
      })),
    });
    expect(c.tcb_info).toBe(pretty);
    expect((await verifyQuote(quote, c, { now: NOW, policy })).ok).toBe(true);
  });

  it.each([
    [
      "two tcbInfo members",
      (b: string) => b.replace('{"tcbInfo":', '{"tcbInfo":{},"tcbInfo":'),
      /appears twice/,
    ],
    ["not JSON", () => "<html>502 Bad Gateway</html>", /not a JSON object/],
    ["no signature", (b: string) => b.replace(/,"signature":"[0-9a-f]+"/, ""), /no "signature"/],
    [
      "a signature that is not hex",
      (b: string) => b.replace(/"signature":"[0-9a-f]{2}/, '"signature":"zz'),
      /no "signature"/,
    ],
    [
      "a tcbInfo that is not an object",
      (b: string) => b.replace(/"tcbInfo":\{.*\},"signature"/, '"tcbInfo":"x","signature"'),
      /no "tcbInfo" object/,
    ],
    [
      "another FMSPC's TCB info",
      (b: string) => b.replace(/"fmspc":"[0-9A-Fa-f]{12}"/, '"fmspc":"00906ED50000"'),
      /for FMSPC 00906ED50000/,
    ],
  ])("refuses %s as malformed", async (_name, edit, message) => {
    const e = await fetchError(
      fetchPcsCollateral(request, {
        url: pccs.url,
        fetch: editTcb(({ body, headers }) => ({ body: edit(body), headers })),
      }),
    );
    expect(e.kind).toBe("malformed");
    expect(e.shortMessage).toMatch(message);
  });

  it("refuses a TCB info without its issuer chain header", async () => {
    const e = await fetchError(
      fetchPcsCollateral(request, {
        url: pccs.url,
        fetch: editTcb(({ body, headers }) => {
          headers.delete("TCB-Info-Issuer-Chain");
          return { body, headers };
        }),
      }),
    );
    expect(e).toMatchObject({ kind: "malformed" });
    expect(e.shortMessage).toContain("no TCB-Info-Issuer-Chain or SGX-TCB-Info-Issuer-Chain header");
  });

  it("accepts the v3 header name SGX-TCB-Info-Issuer-Chain", async () => {
    const c = await fetchPcsCollateral(request, {
      url: pccs.url,
      fetch: editTcb(({ body, headers }) => {
        headers.set("SGX-TCB-Info-Issuer-Chain", headers.get("TCB-Info-Issuer-Chain") as string);
        headers.delete("TCB-Info-Issuer-Chain");
        return { body, headers };
      }),
    });
    expect(c.tcb_info_issuer_chain).toBe(pccs.responses.tdx.tcbInfo.issuerChain);
  });

  it("stops reading an endless body at the size limit", async () => {
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    const flood = fakeFetch(
      () =>
        new Response(
          new ReadableStream({
            pull(c) {
              sent += chunk.length;
              c.enqueue(chunk);
            },
          }),
        ),
    );
    const e = await fetchError(fetchPcsCollateral(request, { url: pccs.url, fetch: flood }));
    expect(e.kind).toBe("too_large");
    expect(sent).toBeLessThan(64 * 1024 * 1024); // bounded by the 4 MiB limit, not by the attacker
  });

  it("refuses a declared oversize body without reading it", async () => {
    const big = fakeFetch(
      () => new Response("x", { headers: { "content-length": String(5 * 1024 * 1024) } }),
    );
    expect((await fetchError(fetchPcsCollateral(request, { url: pccs.url, fetch: big }))).kind).toBe(
      "too_large",
    );
  });

  it("refuses a PCK CRL that is not a CRL", async () => {
    const junk = fakeFetch(async (url) =>
      url.includes("pckcrl")
        ? new Response(new Uint8Array([0x30, 0x03, 1, 2, 3]), { headers: (await fetch(url)).headers })
        : fetch(url),
    );
    const e = await fetchError(fetchPcsCollateral(request, { url: pccs.url, fetch: junk }));
    expect(e).toMatchObject({ kind: "malformed" });
    expect(e.shortMessage).toContain("not a CRL");
  });
});

describe("fetchPcsCollateral misuse", () => {
  it.each([
    [{ url: "ftp://pccs.example" }, "url"],
    [{ url: "not a url" }, "url"],
    [{ rootCaCrlUrl: "file:///etc/passwd" }, "rootCaCrlUrl"],
    [{ timeoutMs: 0 }, "timeoutMs"],
    [{ timeoutMs: 1.5 }, "timeoutMs"],
  ])("options %j throw naming %s", async (options, field) => {
    await expect(fetchPcsCollateral(request, options)).rejects.toSatisfy(
      (e) => e instanceof InvalidInputError && e.field === field,
    );
  });

  it.each([
    [{ fmspc: "zz" }, "request.fmspc"],
    [{ teeType: "sev" }, "request.teeType"],
    [{ ca: "root" }, "request.ca"],
    [{ now: -1 }, "now"],
  ])("request %j throws naming %s", async (edit, field) => {
    await expect(fetchPcsCollateral({ ...request, ...edit } as never, { url: pccs.url })).rejects.toSatisfy(
      (e) => e instanceof InvalidInputError && e.field === field,
    );
  });
});
