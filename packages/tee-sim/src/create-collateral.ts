import { p256 } from "@noble/curves/nist.js";
import { signTbs, type TestCert, type TestPki } from "./create-test-pki.js";
import * as der from "./der.js";
import { bytesToHex, utf8ToBytes } from "./util.js";

export type TcbStatus =
  | "UpToDate"
  | "SWHardeningNeeded"
  | "ConfigurationNeeded"
  | "ConfigurationAndSWHardeningNeeded"
  | "OutOfDate"
  | "OutOfDateConfigurationNeeded"
  | "Revoked";

/** Collateral in the JSON shape of @phala/dcap-qvl (same keys as the shared vectors' *_collateral.json). */
export interface DcapCollateral {
  pck_crl_issuer_chain: string;
  /** hex DER */
  root_ca_crl: string;
  /** hex DER */
  pck_crl: string;
  tcb_info_issuer_chain: string;
  /** JSON text, signed byte-for-byte. */
  tcb_info: string;
  /** hex r‖s (64 bytes) */
  tcb_info_signature: string;
  qe_identity_issuer_chain: string;
  qe_identity: string;
  qe_identity_signature: string;
}

export interface CreateCollateralParameters {
  pki: TestPki;
  /** Unix seconds at the centre of the validity window. */
  now: number;
  /** Status of the platform TCB level the quote matches (default "UpToDate"). */
  tcbStatus?: TcbStatus | undefined;
  advisoryIds?: string[] | undefined;
  /** Status of the QE identity TCB level (default "UpToDate"). */
  qeTcbStatus?: TcbStatus | undefined;
  qeAdvisoryIds?: string[] | undefined;
  /** Width of the TCB info / QE identity / CRL windows, centred on `now` (default 30 days). */
  validitySeconds?: number | undefined;
  /** Override the windows (unix seconds). */
  issueDate?: number | undefined;
  nextUpdate?: number | undefined;
  crlThisUpdate?: number | undefined;
  crlNextUpdate?: number | undefined;
  /** Serials (bigint or hex) put on the PCK CRL (signed by the PCK CA). */
  revokedSerials?: (bigint | string)[] | undefined;
  /** Serials put on the root CA CRL. */
  rootRevokedSerials?: (bigint | string)[] | undefined;
  /** Corrupt the signature of a CRL (the CRL still parses). */
  badCrlSignature?: "pck" | "root" | undefined;
  /** Sign the PCK CRL with this certificate's key and name (e.g. `pki.tcbSigning`) instead of the PCK CA. */
  pckCrlSigner?: TestCert | undefined;
  /** TCB info fields (default: the PKI's FMSPC / PCEID). */
  fmspc?: string | undefined;
  pceId?: string | undefined;
  /** Collateral for TDX (default: TCB info "TDX" v3, QE identity "TD_QE") or SGX quotes ("SGX" v3, "QE"). */
  teeType?: "tdx" | "sgx" | undefined;
  /** Extra TCB info / QE identity fields merged over the generated objects before signing. */
  tcbInfoOverrides?: Record<string, unknown> | undefined;
  qeIdentityOverrides?: Record<string, unknown> | undefined;
}

export type CreateCollateralReturnType = DcapCollateral;

const iso = (s: number) => new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

function serialOf(s: bigint | string): bigint {
  return typeof s === "bigint" ? s : BigInt(`0x${s.replace(/^0x/i, "")}`);
}

/** Builds a CRL (v2, ecdsa-with-SHA256) issued by `issuer`. */
export function createCrl(p: {
  issuer: TestCert;
  thisUpdate: number;
  nextUpdate: number;
  revokedSerials?: (bigint | string)[] | undefined;
  crlNumber?: number | undefined;
  badSignature?: boolean | undefined;
}): Uint8Array {
  const revoked = (p.revokedSerials ?? []).map((s) => der.seq(der.int(serialOf(s)), der.time(p.thisUpdate)));
  const tbs = der.seq(
    der.int(1),
    der.seq(der.oid("1.2.840.10045.4.3.2")),
    p.issuer.subject,
    der.time(p.thisUpdate),
    der.time(p.nextUpdate),
    ...(revoked.length > 0 ? [der.seq(...revoked)] : []),
    der.explicit(0, der.seq(der.seq(der.oid("2.5.29.20"), der.octets(der.int(p.crlNumber ?? 1))))),
  );
  if (!p.badSignature) return signTbs(tbs, p.issuer.privateKey);
  // A well-formed signature by an unrelated key.
  const otherKey = p256.utils.randomSecretKey(new Uint8Array(p256.lengths.seed as number).fill(7));
  return signTbs(tbs, otherKey);
}

function sign(text: string, key: Uint8Array): string {
  return bytesToHex(p256.sign(utf8ToBytes(text), key, { prehash: true, format: "compact" }));
}

/**
 * Creates collateral (TCB info, QE identity, CRLs and issuer chains, all signed under the test PKI)
 * valid around `now`, in the JSON shape dcap-qvl takes.
 *
 * @example
 * const collateral = createCollateral({ pki, now: 1751624191, tcbStatus: "SWHardeningNeeded", advisoryIds: ["INTEL-SA-00615"] });
 */
export function createCollateral(p: CreateCollateralParameters): CreateCollateralReturnType {
  const { pki, now } = p;
  const validity = p.validitySeconds ?? 30 * 86400;
  const issueDate = p.issueDate ?? now - Math.floor(validity / 2);
  const nextUpdate = p.nextUpdate ?? now + Math.ceil(validity / 2);
  const crlThisUpdate = p.crlThisUpdate ?? issueDate;
  const crlNextUpdate = p.crlNextUpdate ?? nextUpdate;
  const svn = (arr: Uint8Array) => Array.from(arr, (v) => ({ svn: v }));
  const status = p.tcbStatus ?? "UpToDate";
  const tdx = (p.teeType ?? "tdx") === "tdx";
  const level = {
    tcb: {
      sgxtcbcomponents: svn(pki.cpuSvn),
      pcesvn: pki.pceSvn,
      ...(tdx
        ? { tdxtcbcomponents: svn(Uint8Array.from([5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])) }
        : {}),
    },
    tcbDate: "2024-03-13T00:00:00Z",
    tcbStatus: status,
    ...(p.advisoryIds && p.advisoryIds.length > 0 ? { advisoryIDs: p.advisoryIds } : {}),
  };
  const tcbInfo = {
    id: tdx ? "TDX" : "SGX",
    version: 3,
    issueDate: iso(issueDate),
    nextUpdate: iso(nextUpdate),
    fmspc: (p.fmspc ?? bytesToHex(pki.fmspc)).toUpperCase(),
    pceId: (p.pceId ?? bytesToHex(pki.pceId)).toUpperCase(),
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    ...(tdx
      ? {
          tdxModule: {
            mrsigner: "0".repeat(96),
            attributes: "0000000000000000",
            attributesMask: "FFFFFFFFFFFFFFFF",
          },
          // As Intel publishes them: one identity per TDX module major version (TEE_TCB_SVN[1]).
          tdxModuleIdentities: [
            {
              id: "TDX_01",
              mrsigner: "0".repeat(96),
              attributes: "0000000000000000",
              attributesMask: "FFFFFFFFFFFFFFFF",
              tcbLevels: [
                { tcb: { isvsvn: 4 }, tcbDate: "2024-03-13T00:00:00Z", tcbStatus: "UpToDate" },
                { tcb: { isvsvn: 2 }, tcbDate: "2023-08-09T00:00:00Z", tcbStatus: "OutOfDate" },
              ],
            },
          ],
        }
      : {}),
    tcbLevels: [level],
    ...p.tcbInfoOverrides,
  };
  const qeStatus = p.qeTcbStatus ?? "UpToDate";
  const qeIdentity = {
    id: tdx ? "TD_QE" : "QE",
    version: 2,
    issueDate: iso(issueDate),
    nextUpdate: iso(nextUpdate),
    tcbEvaluationDataNumber: 17,
    miscselect: "00000000",
    miscselectMask: "FFFFFFFF",
    attributes: "11000000000000000000000000000000",
    attributesMask: "FBFFFFFFFFFFFFFF0000000000000000",
    mrsigner: bytesToHex(pki.qe.mrSigner).toUpperCase(),
    isvprodid: pki.qe.isvProdId,
    tcbLevels: [
      {
        tcb: { isvsvn: pki.qe.isvSvn },
        tcbDate: "2024-03-13T00:00:00Z",
        tcbStatus: qeStatus,
        ...(p.qeAdvisoryIds && p.qeAdvisoryIds.length > 0 ? { advisoryIDs: p.qeAdvisoryIds } : {}),
      },
    ],
    ...p.qeIdentityOverrides,
  };
  const tcbInfoText = JSON.stringify(tcbInfo);
  const qeIdentityText = JSON.stringify(qeIdentity);
  const pckCrlIssuer = p.pckCrlSigner ?? pki.pckCa;
  const rootCrl = createCrl({
    issuer: pki.root,
    thisUpdate: crlThisUpdate,
    nextUpdate: crlNextUpdate,
    revokedSerials: p.rootRevokedSerials,
    badSignature: p.badCrlSignature === "root",
  });
  const pckCrl = createCrl({
    issuer: pckCrlIssuer,
    thisUpdate: crlThisUpdate,
    nextUpdate: crlNextUpdate,
    revokedSerials: p.revokedSerials,
    badSignature: p.badCrlSignature === "pck",
  });
  const tcbChain = pki.tcbSigning.pem + pki.root.pem;
  return {
    pck_crl_issuer_chain: pki.pckCa.pem + pki.root.pem,
    root_ca_crl: bytesToHex(rootCrl),
    pck_crl: bytesToHex(pckCrl),
    tcb_info_issuer_chain: tcbChain,
    tcb_info: tcbInfoText,
    tcb_info_signature: sign(tcbInfoText, pki.tcbSigning.privateKey),
    qe_identity_issuer_chain: tcbChain,
    qe_identity: qeIdentityText,
    qe_identity_signature: sign(qeIdentityText, pki.tcbSigning.privateKey),
  };
}
