import type { NormalizedCollateral } from "./collateral.js";
import { equalBytes, hexToBytesStrict, pemToDers } from "./internal/bytes.js";
import { isSignedBy, type ParsedCert, type ParsedCrl, parseCertificate, parseCrl } from "./internal/x509.js";
import { type Check, fail, pass } from "./reasons.js";

/** A validity window of one collateral item or certificate. */
export interface ValidityWindow {
  what: string;
  kind: "collateral" | "crl" | "certificate";
  notBefore: number;
  notAfter: number;
}

export interface TcbInfoSummary {
  id: string;
  version: number;
  fmspc: string;
  pceId: string;
  issueDate: string;
  nextUpdate: string;
  tcbEvaluationDataNumber?: number;
}

/** Everything about a collateral set that does not depend on `now` or on a quote. Cacheable. */
export interface CollateralAnalysis {
  /** Failures independent of time (parse errors, CRL signatures / issuers, revoked signing certs). */
  integrity: Check;
  windows: ValidityWindow[];
  tcbInfo?: TcbInfoSummary;
  root?: ParsedCert;
  rootCrl?: ParsedCrl;
  pckCrl?: ParsedCrl;
  /** Certificate that signed the PCK CRL (from pck_crl_issuer_chain). */
  pckCrlIssuer?: ParsedCert;
  /** pck_crl_issuer_chain, leaf first. */
  pckCrlChain?: ParsedCert[];
  /** Memoised signature check of pck_crl_issuer_chain up to the root (see checkPckRevocation). */
  pckCrlChainProblem?: Promise<string | undefined>;
}

function chain(pem: string, what: string): ParsedCert[] {
  const certs = pemToDers(pem).map(parseCertificate);
  if (certs.length === 0) throw new Error(`${what} has no certificates`);
  return certs;
}

/**
 * Structural anchor check without cryptography: a chain must not end in a self-issued certificate other
 * than the trusted root. (The signatures of the TCB info / QE identity chains are verified by dcap-qvl in
 * `quote.signature_chain`; the PCK CRL issuer chain, which dcap-qvl never checks, by `chainToRoot`.)
 */
export function anchoredAt(certs: ParsedCert[], root: ParsedCert, what: string): string | undefined {
  const last = certs[certs.length - 1] as ParsedCert;
  if (equalBytes(last.issuer, last.subject) && !equalBytes(last.der, root.der))
    return `${what}: chain ends in a root other than the trusted one`;
  const top = certs.filter((c) => !equalBytes(c.der, root.der)).pop();
  if (top && !equalBytes(top.issuer, root.subject))
    return `${what}: chain is not issued under the trusted root`;
  return undefined;
}

/** Verifies `certs` (leaf first) up to `root`; returns a failure message or undefined. */
export async function chainToRoot(
  certs: ParsedCert[],
  root: ParsedCert,
  what: string,
): Promise<string | undefined> {
  const list = certs.filter((c) => !equalBytes(c.der, root.der));
  for (let i = 0; i < list.length; i++) {
    const cert = list[i] as ParsedCert;
    const issuer = list[i + 1] ?? root;
    if (!(await isSignedBy(cert, issuer))) return `${what}: certificate ${i} is not signed by its issuer`;
    if (i + 1 < list.length && !(list[i + 1] as ParsedCert).isCa)
      return `${what}: issuer ${i + 1} is not a CA`;
  }
  // A chain whose last element claims to be a root must be exactly our root.
  const last = certs[certs.length - 1] as ParsedCert;
  if (equalBytes(last.issuer, last.subject) && !equalBytes(last.der, root.der))
    return `${what}: chain ends in a different root`;
  return undefined;
}

/**
 * Parses and checks collateral against a trust anchor: CRL signatures and issuers (root CA CRL by the root,
 * PCK CRL by the CA in pck_crl_issuer_chain, itself chained to the root), issuer chains of the TCB info and
 * QE identity, revocation of those signing certificates, and collects every validity window.
 */
export async function analyzeCollateral(
  c: NormalizedCollateral,
  rootDer: Uint8Array,
): Promise<CollateralAnalysis> {
  const name = "collateral.integrity";
  const out: CollateralAnalysis = { integrity: pass(name, "ok"), windows: [] };
  const problems: Check[] = [];
  try {
    const root = parseCertificate(rootDer);
    out.root = root;
    out.windows.push({
      what: "root CA certificate",
      kind: "certificate",
      notBefore: root.notBefore,
      notAfter: root.notAfter,
    });
    let tcb: Record<string, unknown>;
    let qe: Record<string, unknown>;
    try {
      tcb = JSON.parse(c.tcb_info) as Record<string, unknown>;
      qe = JSON.parse(c.qe_identity) as Record<string, unknown>;
    } catch (e) {
      out.integrity = fail(
        name,
        "collateral_invalid",
        `TCB info or QE identity is not JSON: ${(e as Error).message}`,
      );
      return out;
    }
    const date = (v: unknown, what: string) => {
      const t = typeof v === "string" ? Date.parse(v) / 1000 : Number.NaN;
      if (!Number.isFinite(t)) throw new Error(`${what} is not a date`);
      return t;
    };
    out.tcbInfo = {
      id: String(tcb.id),
      version: Number(tcb.version),
      fmspc: String(tcb.fmspc).toUpperCase(),
      pceId: String(tcb.pceId).toUpperCase(),
      issueDate: String(tcb.issueDate),
      nextUpdate: String(tcb.nextUpdate),
      ...(typeof tcb.tcbEvaluationDataNumber === "number"
        ? { tcbEvaluationDataNumber: tcb.tcbEvaluationDataNumber }
        : {}),
    };
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

    const rootCrl = parseCrl(hexToBytesStrict(c.root_ca_crl, "collateral.root_ca_crl"));
    const pckCrl = parseCrl(hexToBytesStrict(c.pck_crl, "collateral.pck_crl"));
    out.rootCrl = rootCrl;
    out.pckCrl = pckCrl;
    out.windows.push(
      {
        what: "root CA CRL",
        kind: "crl",
        notBefore: rootCrl.thisUpdate,
        notAfter: rootCrl.nextUpdate ?? Number.POSITIVE_INFINITY,
      },
      {
        what: "PCK CRL",
        kind: "crl",
        notBefore: pckCrl.thisUpdate,
        notAfter: pckCrl.nextUpdate ?? Number.POSITIVE_INFINITY,
      },
    );

    const pckCrlChain = chain(c.pck_crl_issuer_chain, "pck_crl_issuer_chain");
    const tcbChain = chain(c.tcb_info_issuer_chain, "tcb_info_issuer_chain");
    const qeChain = chain(c.qe_identity_issuer_chain, "qe_identity_issuer_chain");
    for (const [what, certs] of [
      ["pck_crl_issuer_chain", pckCrlChain],
      ["tcb_info_issuer_chain", tcbChain],
      ["qe_identity_issuer_chain", qeChain],
    ] as const) {
      certs.forEach((cert, i) => {
        out.windows.push({
          what: `${what}[${i}]`,
          kind: "certificate",
          notBefore: cert.notBefore,
          notAfter: cert.notAfter,
        });
      });
    }
    const pckCrlIssuer = pckCrlChain[0] as ParsedCert;
    out.pckCrlIssuer = pckCrlIssuer;

    // Issuer chains must be anchored at the trusted root (signatures: see anchoredAt).
    out.pckCrlChain = pckCrlChain;
    for (const [what, certs] of [
      ["pck_crl_issuer_chain", pckCrlChain],
      ["tcb_info_issuer_chain", tcbChain],
      ["qe_identity_issuer_chain", qeChain],
    ] as const) {
      const problem = anchoredAt(certs, root, what);
      if (problem) problems.push(fail(name, "certificate_chain_invalid", problem));
    }
    // Root CA CRL: issued and signed by the trust anchor.
    if (!equalBytes(rootCrl.issuer, root.subject)) {
      problems.push(fail(name, "crl_issuer_mismatch", "root CA CRL is not issued by the trusted root"));
    } else if (!(await isSignedBy(rootCrl, root))) {
      problems.push(
        fail(
          name,
          "crl_signature_invalid",
          "root CA CRL signature does not verify with the trusted root key",
        ),
      );
    }
    if (!equalBytes(pckCrl.issuer, pckCrlIssuer.subject)) {
      problems.push(
        fail(
          name,
          "crl_issuer_mismatch",
          "PCK CRL issuer is not the first certificate of pck_crl_issuer_chain",
        ),
      );
    } else if (!(await isSignedBy(pckCrl, pckCrlIssuer))) {
      problems.push(
        fail(name, "crl_signature_invalid", "PCK CRL signature does not verify with its issuer's key"),
      );
    }
    if (
      rootCrl.revokedSerials.has(pckCrlIssuer.serialHex) &&
      equalBytes(pckCrlIssuer.issuer, rootCrl.issuer)
    ) {
      problems.push(fail(name, "certificate_revoked", "the PCK CRL issuer is revoked by the root CA CRL"));
    }
    for (const [what, certs] of [
      ["TCB info signing certificate", tcbChain],
      ["QE identity signing certificate", qeChain],
    ] as const) {
      const leaf = certs[0] as ParsedCert;
      if (rootCrl.revokedSerials.has(leaf.serialHex) && equalBytes(leaf.issuer, rootCrl.issuer)) {
        problems.push(fail(name, "certificate_revoked", `${what} is revoked by the root CA CRL`));
      }
    }
    out.integrity =
      problems[0] ??
      pass(
        name,
        "issuer chains are anchored at the trusted root, both CRLs are signed by their issuers, signing certificates are not revoked",
        {
          rootCrlRevoked: rootCrl.revokedSerials.size,
          pckCrlRevoked: pckCrl.revokedSerials.size,
        },
      );
    if (problems.length > 1 && out.integrity.details === undefined) {
      out.integrity.details = { problems: problems.map((p) => `${p.reason}: ${p.message}`) };
    }
  } catch (e) {
    out.integrity = fail(name, "collateral_invalid", `collateral does not parse: ${(e as Error).message}`);
  }
  return out;
}
