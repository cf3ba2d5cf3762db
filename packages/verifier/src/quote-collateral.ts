import { hexToBytes } from "@noble/hashes/utils.js";
import { type Collateral, normalizeCollateral } from "./collateral.js";
import { InvalidInputError } from "./errors/input.js";
import { bytesToHex } from "./internal/bytes.js";
import { bytes, object, pick, str } from "./internal/proto-fields.js";
import { LIMITS } from "./limits.js";

type O<T> = T | undefined;

/** A `google.protobuf.Timestamp`: protobuf-es message, or proto3 JSON (RFC 3339 text). */
export type TimestampInput = { seconds: bigint | number | string; nanos?: number | undefined } | string;

/**
 * The proto `QuoteCollateral` (embedded in proofs as `tee.collateral`): protobuf-es message or proto3 JSON
 * (camelCase or snake_case names, base64 bytes).
 */
export interface QuoteCollateralInput {
  pckCrlIssuerChain?: O<string>;
  pck_crl_issuer_chain?: O<string>;
  rootCaCrl?: O<Uint8Array | string>;
  root_ca_crl?: O<Uint8Array | string>;
  pckCrl?: O<Uint8Array | string>;
  pck_crl?: O<Uint8Array | string>;
  tcbInfoIssuerChain?: O<string>;
  tcb_info_issuer_chain?: O<string>;
  tcbInfo?: O<string>;
  tcb_info?: O<string>;
  tcbInfoSignature?: O<Uint8Array | string>;
  tcb_info_signature?: O<Uint8Array | string>;
  qeIdentityIssuerChain?: O<string>;
  qe_identity_issuer_chain?: O<string>;
  qeIdentity?: O<string>;
  qe_identity?: O<string>;
  qeIdentitySignature?: O<Uint8Array | string>;
  qe_identity_signature?: O<Uint8Array | string>;
  fmspc?: O<string>;
  pckCa?: O<string>;
  pck_ca?: O<string>;
  sourceUrl?: O<string>;
  source_url?: O<string>;
  fetchTime?: O<TimestampInput>;
  fetch_time?: O<TimestampInput>;
  [other: string]: unknown;
}

/** The fields of the proto `QuoteCollateral` as protobuf-es holds them: pass to `create(QuoteCollateralSchema, …)`. */
export interface QuoteCollateralFields {
  pckCrlIssuerChain: string;
  rootCaCrl: Uint8Array;
  pckCrl: Uint8Array;
  tcbInfoIssuerChain: string;
  tcbInfo: string;
  tcbInfoSignature: Uint8Array;
  qeIdentityIssuerChain: string;
  qeIdentity: string;
  qeIdentitySignature: Uint8Array;
  fmspc: string;
  pckCa: string;
  sourceUrl: string;
  fetchTime?: { seconds: bigint; nanos: number } | undefined;
}

/**
 * Collateral (the verifier's shape, e.g. what `fetchPcsCollateral` returns) as the fields of the proto
 * `QuoteCollateral`, byte for byte: hex fields become bytes, the signed texts and chains stay as they are.
 *
 * @throws {InvalidInputError} naming the field when the collateral is malformed.
 * @example
 * import { create } from "@bufbuild/protobuf";
 * import { QuoteCollateralSchema } from "@chaoschain/zerog-core";
 * proof.tee.collateral = create(QuoteCollateralSchema, toQuoteCollateral(await source.getCollateral(request)));
 */
export function toQuoteCollateral(collateral: Collateral | string): QuoteCollateralFields {
  const c = normalizeCollateral(collateral);
  const meta = typeof collateral === "string" ? (JSON.parse(collateral) as Collateral) : collateral;
  const text = (v: unknown, field: string) => {
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") throw new InvalidInputError(`collateral.${field}`, "expected a string");
    return v;
  };
  const out: QuoteCollateralFields = {
    pckCrlIssuerChain: c.pck_crl_issuer_chain,
    rootCaCrl: hexToBytes(c.root_ca_crl),
    pckCrl: hexToBytes(c.pck_crl),
    tcbInfoIssuerChain: c.tcb_info_issuer_chain,
    tcbInfo: c.tcb_info,
    tcbInfoSignature: hexToBytes(c.tcb_info_signature),
    qeIdentityIssuerChain: c.qe_identity_issuer_chain,
    qeIdentity: c.qe_identity,
    qeIdentitySignature: hexToBytes(c.qe_identity_signature),
    fmspc: text(meta.fmspc, "fmspc"),
    pckCa: text(meta.pck_ca, "pck_ca"),
    sourceUrl: text(meta.source_url, "source_url"),
  };
  const t = meta.fetch_time;
  if (t !== undefined && t !== null) {
    if (!Number.isInteger(t) || t < 0)
      throw new InvalidInputError("collateral.fetch_time", "expected unix seconds");
    out.fetchTime = { seconds: BigInt(t), nanos: 0 };
  }
  return out;
}

function unixSeconds(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") {
    const t = Date.parse(v);
    if (!Number.isFinite(t)) throw new InvalidInputError(field, "expected an RFC 3339 timestamp");
    return Math.floor(t / 1000);
  }
  const seconds = object(v, field)?.seconds;
  const n = typeof seconds === "bigint" ? Number(seconds) : Number(seconds ?? 0);
  if (!Number.isSafeInteger(n)) throw new InvalidInputError(`${field}.seconds`, "expected an integer");
  return n;
}

/** The proto3 JSON (camelCase) name of a snake_case field, made once per name (only constant names are read). */
const camelNames = new Map<string, string>();
function camel(snake: string): string {
  let name = camelNames.get(snake);
  if (name === undefined) {
    name = snake.replace(/_([a-z])/g, (_, x: string) => x.toUpperCase());
    camelNames.set(snake, name);
  }
  return name;
}

/**
 * The proto `QuoteCollateral` (protobuf-es message or proto3 JSON) in the verifier's collateral shape (bytes
 * as lowercase hex), with its fetch metadata; undefined when it carries none of the nine collateral fields.
 * The inverse of {@link toQuoteCollateral}. `verifyProof` does this for a proof's `tee.collateral`.
 *
 * @throws {InvalidInputError} naming the field (under `field`) for a wrong type, encoding or size.
 * @example
 * const collateral = fromQuoteCollateral(result.proof.tee.collateral);
 */
export function fromQuoteCollateral(input: unknown, field = "collateral"): Collateral | undefined {
  const c = object(input, field);
  if (!c) return undefined;
  const f = (k: string) => `${field}.${k}`;
  const text = (k: string) => str(c, camel(k), k, f(k), LIMITS.collateralFieldBytes);
  const hex = (k: string) => bytesToHex(bytes(c, camel(k), k, f(k), LIMITS.collateralFieldBytes));
  const out: Collateral = {
    pck_crl_issuer_chain: text("pck_crl_issuer_chain"),
    root_ca_crl: hex("root_ca_crl"),
    pck_crl: hex("pck_crl"),
    tcb_info_issuer_chain: text("tcb_info_issuer_chain"),
    tcb_info: text("tcb_info"),
    tcb_info_signature: hex("tcb_info_signature"),
    qe_identity_issuer_chain: text("qe_identity_issuer_chain"),
    qe_identity: text("qe_identity"),
    qe_identity_signature: hex("qe_identity_signature"),
  };
  if (Object.values(out).every((x) => x === "")) return undefined;
  for (const k of ["fmspc", "pck_ca", "source_url"] as const) {
    const v = str(c, camel(k), k, f(k));
    if (v !== "") out[k] = v;
  }
  const fetchTime = unixSeconds(pick(c, "fetchTime", "fetch_time", f("fetch_time")), f("fetch_time"));
  if (fetchTime !== undefined) out.fetch_time = fetchTime;
  return out;
}
