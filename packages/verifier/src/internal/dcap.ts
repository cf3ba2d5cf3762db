import dcap from "@phala/dcap-qvl";
import type { Reason } from "../check.js";

/** The Buffer class dcap-qvl itself uses (native in Node, its `buffer` polyfill in browsers). */
const DcapBuffer = (
  dcap.constants.TRUSTED_ROOT_CA_DER as unknown as { constructor: { from(b: Uint8Array): Uint8Array } }
).constructor;

export interface DcapResult {
  status: string;
  advisoryIds: string[];
}

/** Runs @phala/dcap-qvl's full quote verification under `root`. Throws its Error on failure. */
export function runDcap(quote: Uint8Array, collateral: object, now: number, root: Uint8Array): DcapResult {
  const v = dcap.QuoteVerifier.newWithRootCa(DcapBuffer.from(root) as never);
  const r = v.verify(DcapBuffer.from(quote) as never, collateral as never, now);
  return { status: r.status, advisoryIds: [...r.advisory_ids] };
}

const MAP: Array<[RegExp, Reason]> = [
  [
    /Failed to decode quote|Failed to extract PCK|Unsupported DCAP PCK cert format|Certificate chain is too short in quote/,
    "quote_malformed",
  ],
  [/Unsupported DCAP|must have version/, "quote_unsupported"],
  [
    /Failed to decode (TcbInfo|QeIdentity)|Unsupported QE Identity|non-(TDX|SGX) TCB info/,
    "collateral_invalid",
  ],
  [/issue date is in the future/, "collateral_not_yet_valid"],
  [/TCBInfo expired|QE Identity expired/, "collateral_expired"],
  [/expired or not yet valid/, "certificate_expired"],
  [/Certificate is revoked/, "certificate_revoked"],
  [/certificate chain|CaUsedAsEndEntity|Certificate chain is too short/i, "certificate_chain_invalid"],
  [/Signature is invalid for tcb_info/, "tcb_info_signature_invalid"],
  [/Signature is invalid for qe_identity/, "qe_identity_signature_invalid"],
  [/Signature is invalid for qe_report/, "qe_report_signature_invalid"],
  [/QE report hash mismatch/, "qe_report_hash_mismatch"],
  [/^QE (MRSIGNER|ISVPRODID|MISCSELECT|ATTRIBUTES|ISVSVN)|No TCB levels found in QE/, "qe_identity_mismatch"],
  [/Debug mode|Reserved bits|SEPT_VE_DISABLE|mr service td/, "td_attributes_invalid"],
  [/ISV enclave report signature is invalid/, "quote_signature_invalid"],
  [/Fmspc mismatch/, "fmspc_mismatch"],
  [/No matching TCB level|No (SGX|TDX) components/, "tcb_level_not_found"],
  [/TCB status is invalid/, "tcb_status_not_allowed"],
];

/** Maps a dcap-qvl error message to our closed reason set. */
export function dcapReason(message: string): Reason {
  for (const [re, reason] of MAP) if (re.test(message)) return reason;
  return "quote_invalid";
}
