import { hexToBytes } from "@noble/hashes/utils.js";
import { type Check, fail, pass, type Reason } from "./check.js";
import type { NormalizedCollateral } from "./collateral.js";
import { equalBytes } from "./internal/bytes.js";
import { parsePemChain } from "./internal/pem.js";
import { untrustedRootMessage } from "./internal/untrusted-root.js";
import { isSignedBy, type ParsedCert, type ParsedCrl, parseCertificate, parseCrl } from "./internal/x509.js";

/** A validity window of one collateral item or certificate. */
export interface ValidityWindow {
  what: string;
  kind: "collateral" | "crl" | "certificate";
  notBefore: number;
  notAfter: number;
}

/** The TDX module identity a TCB info expects (Intel QVL's `tdxModule` / `tdxModuleIdentities`). */
export interface TdxModuleIdentity {
  id?: string;
  /** hex, 48 bytes */
  mrsigner: string;
  /** hex, 8 bytes */
  attributes: string;
  tcbLevels?: Array<{ isvsvn: number; tcbStatus: string; advisoryIds: string[] }>;
}

export interface TcbInfoSummary {
  id: string;
  version: number;
  fmspc: string;
  pceId: string;
  issueDate: string;
  nextUpdate: string;
  tcbEvaluationDataNumber?: number;
  tdxModule?: TdxModuleIdentity;
  tdxModuleIdentities?: TdxModuleIdentity[];
}

/** Everything about a collateral set that does not depend on `now` or on a quote. Cacheable by content. */
export interface CollateralAnalysis {
  /** Failures independent of time: parse errors, CRL signatures and issuers, chains, revoked signing certs. */
  integrity: Check;
  windows: ValidityWindow[];
  tcbInfo?: TcbInfoSummary;
  rootCrl?: ParsedCrl;
  pckCrl?: ParsedCrl;
  /** The certificate that signed the PCK CRL (first of pck_crl_issuer_chain), verified up to the root. */
  pckCrlIssuer?: ParsedCert;
}

const NAME = "collateral.integrity";

class IntegrityError extends Error {
  constructor(
    readonly reason: Reason,
    message: string,
  ) {
    super(message);
  }
}

/** An issuer chain of the collateral: exactly [signing certificate, trusted root], strict PEM. */
function issuerChain(pem: string, root: ParsedCert, what: string): ParsedCert {
  let ders: Uint8Array[];
  try {
    ders = parsePemChain(pem);
  } catch (e) {
    throw new IntegrityError(
      "collateral_invalid",
      `${what} is not a strict PEM chain: ${(e as Error).message}`,
    );
  }
  if (ders.length !== 2)
    throw new IntegrityError("certificate_chain_invalid", `${what} has ${ders.length} certificates, not 2`);
  if (!equalBytes(ders[1] as Uint8Array, root.der))
    throw new IntegrityError(
      "untrusted_root",
      untrustedRootMessage(`the collateral's ${what}`, ders[1] as Uint8Array, root),
    );
  return parseCertificate(ders[0] as Uint8Array);
}

function moduleIdentity(v: unknown): TdxModuleIdentity | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.mrsigner !== "string" || typeof o.attributes !== "string") return undefined;
  const out: TdxModuleIdentity = {
    mrsigner: o.mrsigner.toLowerCase(),
    attributes: o.attributes.toLowerCase(),
  };
  if (typeof o.id === "string") out.id = o.id;
  if (Array.isArray(o.tcbLevels))
    out.tcbLevels = o.tcbLevels.map((l: Record<string, unknown>) => ({
      isvsvn: Number((l?.tcb as Record<string, unknown>)?.isvsvn),
      tcbStatus: String(l?.tcbStatus),
      advisoryIds: Array.isArray(l?.advisoryIDs) ? l.advisoryIDs.map(String) : [],
    }));
  return out;
}

function date(v: unknown, what: string): number {
  const t = typeof v === "string" ? Date.parse(v) / 1000 : Number.NaN;
  if (!Number.isFinite(t)) throw new IntegrityError("collateral_invalid", `${what} is not a date`);
  return t;
}

function summary(tcb: Record<string, unknown>): TcbInfoSummary {
  const out: TcbInfoSummary = {
    id: String(tcb.id),
    version: Number(tcb.version),
    fmspc: String(tcb.fmspc).toUpperCase(),
    pceId: String(tcb.pceId).toUpperCase(),
    issueDate: String(tcb.issueDate),
    nextUpdate: String(tcb.nextUpdate),
  };
  if (typeof tcb.tcbEvaluationDataNumber === "number")
    out.tcbEvaluationDataNumber = tcb.tcbEvaluationDataNumber;
  const mod = moduleIdentity(tcb.tdxModule);
  if (mod) out.tdxModule = mod;
  if (Array.isArray(tcb.tdxModuleIdentities))
    out.tdxModuleIdentities = tcb.tdxModuleIdentities.map(moduleIdentity).filter((m) => m !== undefined);
  return out;
}

function parseJson(text: string, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new IntegrityError("collateral_invalid", `${what} is not a JSON object`);
}

/**
 * Parses and checks collateral against a trust anchor, signatures included: the root CA CRL is signed by
 * the root; the PCK CRL by the first certificate of pck_crl_issuer_chain, itself signed by the root; every
 * issuer chain is strict PEM, [signer, trusted root]; no signing certificate is on the root CA CRL. Collects
 * every validity window (checked at `now` by `collateral.validity`).
 */
export async function analyzeCollateral(
  c: NormalizedCollateral,
  root: ParsedCert,
): Promise<CollateralAnalysis> {
  const out: CollateralAnalysis = { integrity: pass(NAME, "ok"), windows: [] };
  try {
    out.windows.push({
      what: "root CA certificate",
      kind: "certificate",
      notBefore: root.notBefore,
      notAfter: root.notAfter,
    });
    const tcb = parseJson(c.tcb_info, "tcb_info");
    const qe = parseJson(c.qe_identity, "qe_identity");
    out.tcbInfo = summary(tcb);
    out.windows.push(
      {
        what: "TCB info",
        kind: "collateral",
        notBefore: date(tcb.issueDate, "tcb_info.issueDate"),
        notAfter: date(tcb.nextUpdate, "tcb_info.nextUpdate"),
      },
      {
        what: "QE identity",
        kind: "collateral",
        notBefore: date(qe.issueDate, "qe_identity.issueDate"),
        notAfter: date(qe.nextUpdate, "qe_identity.nextUpdate"),
      },
    );
    let rootCrl: ParsedCrl;
    let pckCrl: ParsedCrl;
    try {
      // normalizeCollateral already checked these are lowercase hex
      rootCrl = parseCrl(hexToBytes(c.root_ca_crl));
      pckCrl = parseCrl(hexToBytes(c.pck_crl));
    } catch (e) {
      throw new IntegrityError("collateral_invalid", `a CRL does not parse: ${(e as Error).message}`);
    }
    out.rootCrl = rootCrl;
    out.pckCrl = pckCrl;
    const crlWindow = (what: string, crl: ParsedCrl): ValidityWindow => ({
      what,
      kind: "crl",
      notBefore: crl.thisUpdate,
      notAfter: crl.nextUpdate ?? Number.POSITIVE_INFINITY,
    });
    out.windows.push(crlWindow("root CA CRL", rootCrl), crlWindow("PCK CRL", pckCrl));
    const tcbSigner = issuerChain(c.tcb_info_issuer_chain, root, "tcb_info_issuer_chain");
    const signers: Array<[string, ParsedCert]> = [
      ["pck_crl_issuer_chain", issuerChain(c.pck_crl_issuer_chain, root, "pck_crl_issuer_chain")],
      ["tcb_info_issuer_chain", tcbSigner],
      [
        "qe_identity_issuer_chain",
        // Intel serves the same chain for both (the TCB signing certificate)
        c.qe_identity_issuer_chain === c.tcb_info_issuer_chain
          ? tcbSigner
          : issuerChain(c.qe_identity_issuer_chain, root, "qe_identity_issuer_chain"),
      ],
    ];
    for (const [what, cert] of signers) {
      out.windows.push({
        what: `${what}[0]`,
        kind: "certificate",
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
      });
    }
    const pckCrlIssuer = (signers[0] as [string, ParsedCert])[1];
    // The three signatures are independent: verify them at once (WebCrypto runs them off the main thread).
    const [rootCrlSigned, issuerSigned, pckCrlSigned] = await Promise.all([
      isSignedBy(rootCrl, root),
      isSignedBy(pckCrlIssuer, root),
      isSignedBy(pckCrl, pckCrlIssuer),
    ]);
    if (!equalBytes(rootCrl.issuer, root.subject))
      throw new IntegrityError("crl_issuer_mismatch", "root CA CRL is not issued by the trusted root");
    if (!rootCrlSigned)
      throw new IntegrityError(
        "crl_signature_invalid",
        "root CA CRL signature does not verify with the root key",
      );
    if (!pckCrlIssuer.isCa || !issuerSigned)
      throw new IntegrityError(
        "certificate_chain_invalid",
        "the PCK CRL issuer is not a CA signed by the trusted root",
      );
    if (!equalBytes(pckCrl.issuer, pckCrlIssuer.subject))
      throw new IntegrityError(
        "crl_issuer_mismatch",
        "PCK CRL issuer is not the first certificate of pck_crl_issuer_chain",
      );
    if (!pckCrlSigned)
      throw new IntegrityError(
        "crl_signature_invalid",
        "PCK CRL signature does not verify with its issuer's key",
      );
    for (const [what, cert] of signers) {
      if (rootCrl.revokedSerials.has(cert.serialHex) && equalBytes(cert.issuer, rootCrl.issuer))
        throw new IntegrityError(
          "certificate_revoked",
          `the signing certificate of ${what} is revoked by the root CA CRL`,
        );
    }
    out.pckCrlIssuer = pckCrlIssuer;
    out.integrity = pass(
      NAME,
      "both CRLs are signed up to the trusted root, issuer chains are [signer, trusted root], no signing certificate is revoked",
      { rootCrlRevoked: rootCrl.revokedSerials.size, pckCrlRevoked: pckCrl.revokedSerials.size },
    );
  } catch (e) {
    out.integrity =
      e instanceof IntegrityError
        ? fail(NAME, e.reason, e.message)
        : fail(NAME, "collateral_invalid", `collateral does not parse: ${(e as Error).message}`);
  }
  return out;
}
