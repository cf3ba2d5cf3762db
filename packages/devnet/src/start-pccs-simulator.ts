import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { TestPki } from "@chaoschain/zerog-tee-sim";
import { startListening, stopListening } from "./http-utils.js";
import { createPcsResponses, type PcsResponses, type SignedPcsDocument } from "./pcs-responses.js";

/** The four collateral endpoints, for faults and request counts. */
export type PccsEndpoint = "tcb" | "qeIdentity" | "pckCrl" | "rootCaCrl";

/** Faults a test can inject. `setFaults({})` clears them. */
export type PccsFaults = {
  /** Answer with this HTTP status (empty body, `Request-ID` header), e.g. 500 or 503. */
  status?: number | undefined;
  /** Accept the request and never answer: the client's timeout has to fire. */
  hang?: boolean | undefined;
  /** Limit `status` / `hang` to these endpoints. Default: all. */
  endpoints?: readonly PccsEndpoint[] | undefined;
  /** Serve collateral whose `nextUpdate` passed (TCB info, QE identity and CRLs; still validly signed). */
  expired?: boolean | undefined;
  /** Issuer-chain headers carry a valid chain of the wrong certificate (one that did not sign the body). */
  issuerChainMismatch?: boolean | undefined;
};

export type StartPccsSimulatorParameters = {
  pki: TestPki;
  /** Unix seconds the collateral is valid around. Default: now. */
  now?: number | undefined;
  /** Width of the validity windows. Default 30 days. */
  validitySeconds?: number | undefined;
  /** Port on 127.0.0.1; 0 (default) picks one. */
  port?: number | undefined;
  faults?: PccsFaults | undefined;
};

export type PccsSimulatorHandle = {
  /** Base URL: `http://127.0.0.1:<port>`; clients append `/sgx|tdx/certification/v4/…`. */
  url: string;
  /** The test platform's FMSPC (upper-case hex). */
  fmspc: string;
  /** What is served while no `expired` fault is set (replaced by `reissue`). */
  readonly responses: PcsResponses;
  /**
   * Intel's next issue: collateral signed anew, its validity windows centred on `now` (Unix seconds,
   * default now), served from then on. Lets a test outlive a short `nextUpdate`.
   */
  reissue(now?: number): void;
  readonly faults: Readonly<PccsFaults>;
  setFaults(faults: PccsFaults): void;
  /** Requests per endpoint (also counted while a fault answers). */
  readonly stats: Readonly<Record<PccsEndpoint, number>>;
  close(): Promise<void>;
};

export type StartPccsSimulatorReturnType = PccsSimulatorHandle;

type Reply = { status: number; body?: Buffer; contentType?: string; headers?: Record<string, string> };

const ENDPOINTS: Record<string, PccsEndpoint> = {
  tcb: "tcb",
  "qe/identity": "qeIdentity",
  pckcrl: "pckCrl",
  rootcacrl: "rootCaCrl",
};

/**
 * Starts an Intel PCS v4 / PCCS look-alike on 127.0.0.1 that serves the collateral of the devnet's test
 * PKI, so a collateral client is exercised exactly as against `api.trustedservices.intel.com` or a
 * PCCS: `GET /{sgx,tdx}/certification/v4/tcb?fmspc=` (`TCB-Info-Issuer-Chain`),
 * `GET /{sgx,tdx}/certification/v4/qe/identity` (`SGX-Enclave-Identity-Issuer-Chain`),
 * `GET /sgx/certification/v4/pckcrl?ca=processor|platform[&encoding=der|pem]` (`SGX-PCK-CRL-Issuer-Chain`),
 * the root CA CRL as a PCCS serves it (`GET /sgx/certification/v4/rootcacrl`, hex text) and as Intel's
 * distribution point does (`GET /IntelSGXRootCA.der`, DER). Issuer chains are URL-encoded PEM; bodies
 * are the exact signed JSON text.
 *
 * @example
 * const pccs = await startPccsSimulator({ pki: createTestPki({ seed: "devnet" }) });
 * const res = await fetch(`${pccs.url}/tdx/certification/v4/tcb?fmspc=${pccs.fmspc}`);
 */
export async function startPccsSimulator(params: StartPccsSimulatorParameters): Promise<PccsSimulatorHandle> {
  const { pki } = params;
  let now = params.now ?? Math.floor(Date.now() / 1000);
  let fresh = createPcsResponses({ pki, now, validitySeconds: params.validitySeconds });
  let expiredResponses: PcsResponses | undefined;
  const expired = (): PcsResponses => {
    expiredResponses ??= createPcsResponses({
      pki,
      now,
      validitySeconds: params.validitySeconds,
      expired: true,
    });
    return expiredResponses;
  };
  // A valid chain of the wrong certificates: the PCK CA did not sign TCB info, the TCB signer no CRL.
  const wrongTcbChain = pki.pckCa.pem + pki.root.pem;
  const wrongCrlChain = pki.tcbSigning.pem + pki.root.pem;
  let faults: PccsFaults = { ...(params.faults ?? {}) };
  const stats: Record<PccsEndpoint, number> = { tcb: 0, qeIdentity: 0, pckCrl: 0, rootCaCrl: 0 };
  const hanging = new Set<ServerResponse>();

  const document = (d: SignedPcsDocument, header: string): Reply => ({
    status: 200,
    body: Buffer.from(d.body),
    contentType: "application/json",
    headers: { [header]: encodeURIComponent(faults.issuerChainMismatch ? wrongTcbChain : d.issuerChain) },
  });

  /** The answer to one request, or "hang". */
  const answer = (method: string, url: URL): Reply | "hang" => {
    const path = url.pathname.replace(/\/+$/, "");
    const q = url.searchParams;
    const m = /^\/(sgx|tdx)\/certification\/v4\/(tcb|qe\/identity|pckcrl|rootcacrl)$/.exec(path);
    const endpoint = path === "/IntelSGXRootCA.der" ? "rootCaCrl" : m ? ENDPOINTS[m[2] ?? ""] : undefined;
    if (method !== "GET" || !endpoint) return { status: 404 };
    stats[endpoint]++;
    if (!faults.endpoints || faults.endpoints.includes(endpoint)) {
      if (faults.hang) return "hang";
      if (faults.status) return { status: faults.status };
    }
    const tee = m?.[1] === "tdx" ? "tdx" : "sgx";
    const r = faults.expired ? expired() : fresh;
    switch (endpoint) {
      case "tcb": {
        const fmspc = q.get("fmspc") ?? "";
        if (!/^[0-9a-fA-F]{12}$/.test(fmspc)) return { status: 400 };
        const version = checkVersionParams(q, r.tcbEvaluationDataNumber);
        if (version !== 200) return { status: version };
        if (fmspc.toUpperCase() !== r.fmspc) return { status: 404 };
        return document(r[tee].tcbInfo, "TCB-Info-Issuer-Chain");
      }
      case "qeIdentity": {
        const version = checkVersionParams(q, r.tcbEvaluationDataNumber);
        if (version !== 200) return { status: version };
        return document(r[tee].qeIdentity, "SGX-Enclave-Identity-Issuer-Chain");
      }
      case "pckCrl": {
        if (tee !== "sgx") return { status: 404 };
        const ca = q.get("ca")?.toLowerCase();
        const encoding = q.get("encoding")?.toLowerCase() ?? "pem";
        if ((ca !== "processor" && ca !== "platform") || (encoding !== "pem" && encoding !== "der"))
          return { status: 400 };
        const chain = faults.issuerChainMismatch ? wrongCrlChain : r.pckCrl.issuerChain;
        const headers = { "SGX-PCK-CRL-Issuer-Chain": encodeURIComponent(chain) };
        return encoding === "der"
          ? { status: 200, body: Buffer.from(r.pckCrl.der), contentType: "application/pkix-crl", headers }
          : {
              status: 200,
              body: Buffer.from(pem(r.pckCrl.der, "X509 CRL")),
              contentType: "application/x-pem-file",
              headers,
            };
      }
      case "rootCaCrl":
        if (path === "/IntelSGXRootCA.der")
          return { status: 200, body: Buffer.from(r.rootCaCrl), contentType: "application/pkix-crl" };
        if (tee !== "sgx") return { status: 404 };
        // PCCS answers hex text (rootcacrlService.js: "to keep backward compatibility").
        return {
          status: 200,
          body: Buffer.from(Buffer.from(r.rootCaCrl).toString("hex")),
          contentType: "application/x-pem-file",
        };
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const reply = answer(req.method ?? "GET", new URL(req.url ?? "/", "http://127.0.0.1"));
    if (reply === "hang") {
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return;
    }
    res.writeHead(reply.status, {
      "Request-ID": randomBytes(16).toString("hex"),
      ...(reply.contentType ? { "Content-Type": reply.contentType } : {}),
      "Content-Length": String(reply.body?.length ?? 0),
      ...reply.headers,
    });
    res.end(reply.body);
  };

  const server: Server = createServer(handle);
  server.keepAliveTimeout = 5_000;
  const port = await startListening(server, params.port ?? 0, "PCCS simulator");
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    fmspc: fresh.fmspc,
    get responses() {
      return fresh;
    },
    reissue(at = Math.floor(Date.now() / 1000)) {
      now = at;
      fresh = createPcsResponses({ pki, now, validitySeconds: params.validitySeconds });
      expiredResponses = undefined;
    },
    get faults() {
      return faults;
    },
    setFaults(next) {
      faults = { ...next };
    },
    stats,
    close() {
      for (const res of hanging) res.destroy();
      closed ??= stopListening(server);
      return closed;
    },
  };
}

/**
 * The `update` / `tcbEvaluationDataNumber` rules of PCS v4: `update` is `early` or `standard`, the two
 * cannot be combined, an older evaluation number is gone (410), a newer one does not exist (404).
 */
function checkVersionParams(q: URLSearchParams, current: number): number {
  const update = q.get("update");
  const number = q.get("tcbEvaluationDataNumber");
  if (update !== null && update !== "early" && update !== "standard") return 400;
  if (number === null) return 200;
  if (update !== null || !/^\d{1,9}$/.test(number)) return 400;
  const n = Number(number);
  return n === current ? 200 : n < current ? 410 : 404;
}

function pem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}
