import { type Check, fail, pass, type Reason, skip } from "../check.js";
import type { ParsedQuote } from "../parse-quote.js";
import { type Policy, SGX_PINS, TDX_PINS } from "../policy.js";
import type { ProofContext } from "../proof-context.js";
import { isCheck, teeQuote } from "./tee-common.js";

const NAME = "tee.measurements";

const pinned = (tee: Policy["tee"], keys: readonly string[]) =>
  keys.filter((k) => (tee as Record<string, unknown>)[k] !== undefined);

function tdx(td: NonNullable<ParsedQuote["td"]>, tee: Policy["tee"]): Check | undefined {
  for (const field of TDX_PINS) {
    const list = tee[field];
    if (list && !list.includes(td[field]))
      return fail(
        NAME,
        field === "mrtd" ? "mrtd_not_allowed" : "rtmr_not_allowed",
        `${field.toUpperCase()} ${td[field]} is not in the policy allow-list`,
        {
          [field]: td[field],
        },
      );
  }
  return undefined;
}

function sgx(s: NonNullable<ParsedQuote["sgx"]>, tee: Policy["tee"]): Check | undefined {
  const no = (reason: Reason, what: string, value: unknown) =>
    fail(NAME, reason, `${what} ${String(value)} is not allowed by policy`, { [what]: value });
  if (tee.mrEnclave && !tee.mrEnclave.includes(s.mrEnclave))
    return no("mrenclave_not_allowed", "MRENCLAVE", s.mrEnclave);
  if (tee.mrSigner && !tee.mrSigner.includes(s.mrSigner))
    return no("mrsigner_not_allowed", "MRSIGNER", s.mrSigner);
  if (tee.isvProdIds && !tee.isvProdIds.includes(s.isvProdId))
    return no("isv_prod_id_not_allowed", "ISVPRODID", s.isvProdId);
  if (tee.minIsvSvn !== undefined && s.isvSvn < tee.minIsvSvn)
    return fail(NAME, "isv_svn_too_low", `ISVSVN ${s.isvSvn} is below the policy minimum ${tee.minIsvSvn}`, {
      isvSvn: s.isvSvn,
    });
  return undefined;
}

/**
 * `tee.measurements`: the enclave's measurements are in the policy's allow-lists: MRTD and RTMR0-2 for a TDX
 * quote; MRENCLAVE, MRSIGNER, ISVPRODID and the minimum ISVSVN for an SGX quote. A pin of one TEE type never
 * passes a quote of the other: it fails `pin_tee_type_mismatch`.
 */
export function teeMeasurements(ctx: ProofContext): Check {
  const q = teeQuote(ctx, NAME);
  if (isCheck(q)) return q;
  const { tee } = ctx.policy;
  const [own, other] = q.td ? [TDX_PINS, SGX_PINS] : [SGX_PINS, TDX_PINS];
  const foreign = pinned(tee, other);
  if (foreign.length > 0)
    return fail(
      NAME,
      "pin_tee_type_mismatch",
      `the policy pins ${foreign.join(", ")}, which a ${q.teeType.toUpperCase()} quote cannot satisfy`,
      {
        pins: foreign,
      },
    );
  const mine = pinned(tee, own);
  if (mine.length === 0)
    return skip(
      NAME,
      "not_pinned",
      `the policy pins no ${q.teeType.toUpperCase()} measurement: any enclave of an allowed TEE type passes`,
    );
  const failed = q.td ? tdx(q.td, tee) : sgx(q.sgx as NonNullable<ParsedQuote["sgx"]>, tee);
  return failed ?? pass(NAME, `${mine.join(", ")} match the policy`, { pinned: mine });
}
