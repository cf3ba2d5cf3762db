import type { TcbInfoSummary, TdxModuleIdentity } from "../analyze-collateral.js";
import { blocked, type Check, fail, pass, type Reason, skip } from "../check.js";
import type { ParsedQuote } from "../parse-quote.js";
import { parsed, type QuoteContext, readCollateral } from "../quote-context.js";

const NAME = "quote.tdx_module";

export type TdxModuleEvaluation =
  | { ok: true; identity: string; status?: string; advisoryIds: string[] }
  | { ok: false; reason: Reason; message: string };

/**
 * The TDX module check of Intel's QVL (QuoteVerifier.cpp 4.1.2.4.11 and TdxModuleCheck.cpp): the module
 * identity is `tdxModule` for module version 0 (TEE_TCB_SVN[1]), else the `tdxModuleIdentities` entry
 * "TDX_<version>"; MRSIGNERSEAM must equal its `mrsigner`; every SEAMATTRIBUTES byte must be zero and
 * equal its `attributes`; for an identity, the module's TCB level is the first whose ISVSVN is at most
 * TEE_TCB_SVN[0].
 */
export function evaluateTdxModule(
  td: NonNullable<ParsedQuote["td"]>,
  tcbInfo: TcbInfoSummary,
): TdxModuleEvaluation {
  const svn = (i: number) => Number.parseInt(td.teeTcbSvn.slice(2 * i, 2 * i + 2), 16);
  const version = svn(1);
  const isvsvn = svn(0);
  const id = `TDX_${version.toString(16).toUpperCase().padStart(2, "0")}`;
  let identity: TdxModuleIdentity | undefined;
  if (version === 0) identity = tcbInfo.tdxModule;
  else identity = tcbInfo.tdxModuleIdentities?.find((m) => m.id?.toUpperCase() === id);
  const name = version === 0 ? "tdxModule" : id;
  if (!identity)
    return {
      ok: false,
      reason: "tdx_module_mismatch",
      message: `the TCB info has no ${name} identity for TDX module version ${version}`,
    };
  if (td.mrSignerSeam !== identity.mrsigner)
    return {
      ok: false,
      reason: "tdx_module_mismatch",
      message: `MRSIGNERSEAM ${td.mrSignerSeam} is not the ${name} signer ${identity.mrsigner}`,
    };
  if (!/^0+$/.test(td.seamAttributes) || td.seamAttributes !== identity.attributes)
    return {
      ok: false,
      reason: "tdx_module_mismatch",
      message: `SEAMATTRIBUTES ${td.seamAttributes} are not zero and ${name}'s ${identity.attributes}`,
    };
  if (version === 0) return { ok: true, identity: name, advisoryIds: [] };
  const level = identity.tcbLevels?.find((l) => isvsvn >= l.isvsvn);
  if (!level)
    return {
      ok: false,
      reason: "tcb_level_not_found",
      message: `no ${name} TCB level for module ISVSVN ${isvsvn}`,
    };
  return { ok: true, identity: name, status: level.tcbStatus, advisoryIds: level.advisoryIds };
}

/** Intel's convergence of the platform TCB status with the TDX module's (TdxModuleCheck.cpp). */
export function convergeWithModule(platform: string, module: string | undefined): string {
  if (module === "Revoked") return "Revoked";
  if (module === "OutOfDate") {
    if (platform === "UpToDate" || platform === "SWHardeningNeeded") return "OutOfDate";
    if (platform === "ConfigurationNeeded" || platform === "ConfigurationAndSWHardeningNeeded")
      return "OutOfDateConfigurationNeeded";
  }
  return platform;
}

/** The module evaluation of a verified TDX quote, or undefined when it does not apply or cannot run. */
export function tdxModuleOf(ctx: QuoteContext): TdxModuleEvaluation | undefined {
  const q = parsed(ctx);
  const tcbInfo = readCollateral(ctx)?.analysis.tcbInfo;
  if (!q?.quote.td || !tcbInfo || !ctx.dcap?.result) return undefined;
  return evaluateTdxModule(q.quote.td, tcbInfo);
}

/** `quote.tdx_module`: the TDX module (SEAM) is Intel's, as the verified TCB info describes it. */
export function quoteTdxModule(ctx: QuoteContext): Check {
  const q = parsed(ctx);
  if (!q) return blocked(NAME, "quote.format");
  if (!q.quote.td) return skip(NAME, "not_applicable", "SGX quote: there is no TDX module");
  const m = tdxModuleOf(ctx);
  if (!m) return blocked(NAME, "quote.signature_chain");
  if (!m.ok) return fail(NAME, m.reason, m.message);
  return pass(
    NAME,
    `MRSIGNERSEAM and SEAMATTRIBUTES match the TCB info's ${m.identity}${m.status ? ` (module TCB ${m.status})` : ""}`,
    { identity: m.identity, ...(m.status ? { moduleStatus: m.status } : {}) },
  );
}
