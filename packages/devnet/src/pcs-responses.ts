import { createCollateral, type DcapCollateral, type TestPki } from "@chaoschain/zerog-tee-sim";

/** A signed Intel PCS JSON document exactly as served. */
export type SignedPcsDocument = {
  /** The response body: `{"tcbInfo":<signed>,"signature":"<hex>"}` or `{"enclaveIdentity":…}`. */
  body: string;
  /** The exact signed text: the `tcbInfo` / `enclaveIdentity` value as it appears in `body`. */
  signed: string;
  /** Hex ECDSA P-256 r ‖ s over SHA-256 of `signed`, by the TCB signing key. */
  signature: string;
  /** PEM chain TCB signing cert → root, served URL-encoded in the issuer-chain header. */
  issuerChain: string;
};

/** Everything the devnet's PCS/PCCS answers, derived from the test PKI. */
export type PcsResponses = {
  /** FMSPC of the test platform, upper-case hex (the only one with TCB info). */
  fmspc: string;
  tcbEvaluationDataNumber: number;
  tdx: { tcbInfo: SignedPcsDocument; qeIdentity: SignedPcsDocument };
  sgx: { tcbInfo: SignedPcsDocument; qeIdentity: SignedPcsDocument };
  /** The PCK CRL (DER) with its issuer chain (PCK CA → root). */
  pckCrl: { der: Uint8Array; issuerChain: string };
  /** The root CA CRL (DER). */
  rootCaCrl: Uint8Array;
  /** The same collateral in dcap-qvl's JSON shape (what a client assembles from the responses). */
  collateral: { tdx: DcapCollateral; sgx: DcapCollateral };
};

export type CreatePcsResponsesParameters = {
  pki: TestPki;
  /** Unix seconds the validity windows are centred on (the devnet's start). */
  now: number;
  /** Width of the windows. Default 30 days (tee-sim's default). */
  validitySeconds?: number | undefined;
  /** Serve collateral that expired: `nextUpdate` (and the CRLs' `nextUpdate`) in the past, still validly signed. */
  expired?: boolean | undefined;
};

/**
 * Builds the Intel PCS v4 answers for the devnet's test PKI from `@chaoschain/zerog-tee-sim`'s
 * collateral: TDX and SGX TCB info (`{"tcbInfo":…,"signature":…}`), TDX and SGX QE identity
 * (`{"enclaveIdentity":…,"signature":…}`), PCK CRL and root CA CRL. The TDX documents are byte-for-byte
 * the devnet's `trust.collateral` for the same `pki` and `now`.
 *
 * @example
 * const r = createPcsResponses({ pki, now });
 * r.tdx.tcbInfo.body // the body of GET /tdx/certification/v4/tcb?fmspc=<r.fmspc>
 */
export function createPcsResponses(params: CreatePcsResponsesParameters): PcsResponses {
  const { pki, now } = params;
  const validity = params.validitySeconds ?? 30 * 86400;
  const windows = params.expired
    ? {
        issueDate: now - 2 * validity,
        nextUpdate: now - validity,
        crlThisUpdate: now - 2 * validity,
        crlNextUpdate: now - validity,
      }
    : { validitySeconds: validity };
  const tdx = createCollateral({ pki, now, ...windows });
  const svn = (arr: Uint8Array) => Array.from(arr, (v) => ({ svn: v }));
  const tcbDate = "2024-03-13T00:00:00Z";
  const sgx = createCollateral({
    pki,
    now,
    ...windows,
    tcbInfoOverrides: {
      id: "SGX",
      tdxModule: undefined, // dropped by JSON.stringify: SGX TCB info has no TDX module
      tcbLevels: [
        { tcb: { sgxtcbcomponents: svn(pki.cpuSvn), pcesvn: pki.pceSvn }, tcbDate, tcbStatus: "UpToDate" },
      ],
    },
    qeIdentityOverrides: {
      id: "QE",
      isvprodid: 1,
      tcbLevels: [{ tcb: { isvsvn: 8 }, tcbDate, tcbStatus: "UpToDate" }],
    },
  });
  const doc = (
    key: "tcbInfo" | "enclaveIdentity",
    signed: string,
    signature: string,
    issuerChain: string,
  ) => ({
    body: `{"${key}":${signed},"signature":"${signature}"}`,
    signed,
    signature,
    issuerChain,
  });
  const tcbInfo = (c: DcapCollateral) =>
    doc("tcbInfo", c.tcb_info, c.tcb_info_signature, c.tcb_info_issuer_chain);
  const qeIdentity = (c: DcapCollateral) =>
    doc("enclaveIdentity", c.qe_identity, c.qe_identity_signature, c.qe_identity_issuer_chain);
  return {
    fmspc: Buffer.from(pki.fmspc).toString("hex").toUpperCase(),
    tcbEvaluationDataNumber: (JSON.parse(tdx.tcb_info) as { tcbEvaluationDataNumber: number })
      .tcbEvaluationDataNumber,
    tdx: { tcbInfo: tcbInfo(tdx), qeIdentity: qeIdentity(tdx) },
    sgx: { tcbInfo: tcbInfo(sgx), qeIdentity: qeIdentity(sgx) },
    pckCrl: { der: Buffer.from(tdx.pck_crl, "hex"), issuerChain: tdx.pck_crl_issuer_chain },
    rootCaCrl: Buffer.from(tdx.root_ca_crl, "hex"),
    collateral: { tdx, sgx },
  };
}
