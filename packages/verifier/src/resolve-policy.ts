import { CHECK_NAMES, type CheckName } from "./check.js";
import { InvalidInputError } from "./errors/input.js";
import { base64ToBytes, hexToBytesStrict, isBytes } from "./internal/bytes.js";
import { parsePemChain } from "./internal/pem.js";
import { sha256Hex } from "./internal/sha256.js";
import { type ParsedCert, parseCertificate } from "./internal/x509.js";
import {
  defaultPolicy,
  INTEL_SGX_ROOT_CA_BASE64,
  type Jwks,
  type Policy,
  type PolicyInput,
  type ReportDataBindingName,
  SGX_PINS,
  type TcbStatus,
  TDX_PINS,
} from "./policy.js";

/** A validated policy with its trust anchor parsed. Lists are normalised (hex lowercase, no `0x`). */
export interface ResolvedPolicy extends Policy {
  root: ParsedCert;
  /** sha256 (hex) of the root's DER: the content key of everything verified under it. */
  rootKey: string;
}

/** Latest accepted `now`: 9999-12-31T23:59:59Z (later times do not fit an ISO date). */
export const MAX_NOW = 253402300799;

/** `now` as unix seconds: an integer in [0, MAX_NOW]. Throws {@link InvalidInputError} otherwise. */
export function assertNow(now: unknown): number {
  if (typeof now !== "number" || !Number.isInteger(now) || now < 0 || now > MAX_NOW) {
    throw new InvalidInputError(
      "now",
      `expected integer unix seconds in [0, ${MAX_NOW}], got ${String(now)}`,
      {
        metaMessages: [
          "The verifier has no implicit clock: pass `now: Math.floor(Date.now() / 1000)` explicitly.",
        ],
      },
    );
  }
  return now;
}

const TCB_STATUSES: TcbStatus[] = [
  "UpToDate",
  "SWHardeningNeeded",
  "ConfigurationNeeded",
  "ConfigurationAndSWHardeningNeeded",
  "OutOfDate",
  "OutOfDateConfigurationNeeded",
];
const BINDINGS: ReportDataBindingName[] = ["address-ascii", "enc-pub-v1", "address-raw"];
const KEYS = {
  policy: [
    "tee",
    "dockerDigests",
    "maxAgeSeconds",
    "maxFutureSkewSeconds",
    "maxGenerationSeconds",
    "requireFreshness",
    "gpu",
    "strict",
    "requiredChecks",
  ],
  "policy.tee": [
    "rootCaPem",
    "rootCaDer",
    "requireQuote",
    "allowedTeeTypes",
    "allowedTcbStatuses",
    "allowedAdvisoryIds",
    "allowedQeVendorIds",
    "allowedPceIds",
    "reportDataBindings",
    ...TDX_PINS,
    ...SGX_PINS,
    "requireEventLog",
  ],
  "policy.gpu": ["required", "ignore", "jwks", "issuers"],
} as const;

function object(v: unknown, field: keyof typeof KEYS): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v) || isBytes(v))
    throw new InvalidInputError(field, "expected an object");
  const known: readonly string[] = KEYS[field];
  for (const k of Object.keys(v)) {
    if (!known.includes(k))
      throw new InvalidInputError(`${field}.${k}`, `unknown field (known: ${known.join(", ")})`, {
        metaMessages: ["A misspelt pin would silently pin nothing, so unknown fields are errors."],
      });
  }
  return v as Record<string, unknown>;
}

function bool(v: unknown, dflt: boolean, field: string): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new InvalidInputError(field, "expected true or false");
  return v;
}

function int(
  v: unknown,
  dflt: number | undefined,
  min: number,
  max: number,
  field: string,
): number | undefined {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new InvalidInputError(field, `expected an integer in [${min}, ${max}], got ${String(v)}`);
  return v;
}

/** A non-empty list whose items `item` validates and normalises. */
function list<T>(
  v: unknown,
  field: string,
  item: (x: unknown, f: string) => T,
  emptyOk = false,
): T[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw new InvalidInputError(field, "expected an array");
  if (v.length === 0 && !emptyOk)
    throw new InvalidInputError(
      field,
      "empty allow-list: it would allow nothing; leave the field out to not pin it",
    );
  return v.map((x, i) => item(x, `${field}[${i}]`));
}

const hexOf =
  (bytes: number) =>
  (x: unknown, f: string): string => {
    const s = typeof x === "string" ? x.trim().replace(/^0x/i, "").toLowerCase() : "";
    if (!new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(s))
      throw new InvalidInputError(f, `expected ${bytes} bytes of hex`);
    return s;
  };
const oneOf =
  <T extends string>(values: readonly T[]) =>
  (x: unknown, f: string): T => {
    if (!values.includes(x as T)) throw new InvalidInputError(f, `expected one of ${values.join(", ")}`);
    return x as T;
  };
const text = (x: unknown, f: string): string => {
  if (typeof x !== "string" || x === "") throw new InvalidInputError(f, "expected a non-empty string");
  return x;
};
const dockerDigest = (x: unknown, f: string): string => {
  const s = typeof x === "string" ? x.trim().toLowerCase() : "";
  if (!/^sha256:[0-9a-f]{64}$/.test(s))
    throw new InvalidInputError(f, 'expected "sha256:" + 64 hex characters');
  return s;
};

/** The default trust anchor, decoded and parsed once (a constant, not a caller's object). */
const INTEL_ROOT = base64ToBytes(INTEL_SGX_ROOT_CA_BASE64, "INTEL_SGX_ROOT_CA");
const INTEL_ROOT_PARSED = { cert: parseCertificate(INTEL_ROOT), key: sha256Hex(INTEL_ROOT) };

/** Trust anchors other than Intel's parsed lately, by sha256 of their DER (a policy is resolved per call). */
const parsedRoots = new Map<string, { cert: ParsedCert; key: string }>();
const maxParsedRoots = 16;

/** Trust anchors given as PEM, by their text (a string cannot change: the text is its own content key). */
const pemRoots = new Map<string, { cert: ParsedCert; key: string }>();

/** The policy's root certificate, parsed, and the sha256 (hex) of its DER. */
function trustAnchorOf(tee: Record<string, unknown>): { cert: ParsedCert; key: string } {
  const pem = tee.rootCaDer === undefined && typeof tee.rootCaPem === "string" ? tee.rootCaPem : undefined;
  const known = pem === undefined ? undefined : pemRoots.get(pem);
  if (known) return known;
  const anchor = parsedTrustAnchor(tee);
  if (pem !== undefined) {
    if (pemRoots.size >= maxParsedRoots) pemRoots.clear();
    pemRoots.set(pem, anchor);
  }
  return anchor;
}

function parsedTrustAnchor(tee: Record<string, unknown>): { cert: ParsedCert; key: string } {
  const root = rootOf(tee);
  if (root === INTEL_ROOT) return INTEL_ROOT_PARSED;
  const key = sha256Hex(root);
  const known = parsedRoots.get(key);
  if (known) return known;
  let cert: ParsedCert;
  try {
    cert = parseCertificate(root);
  } catch (e) {
    throw new InvalidInputError(
      tee.rootCaPem !== undefined ? "policy.tee.rootCaPem" : "policy.tee.rootCaDer",
      `not a certificate: ${(e as Error).message}`,
    );
  }
  if (parsedRoots.size >= maxParsedRoots) parsedRoots.clear();
  parsedRoots.set(key, { cert, key });
  return { cert, key };
}

function rootOf(tee: Record<string, unknown>): Uint8Array {
  const { rootCaPem: pem, rootCaDer: der } = tee;
  if (pem !== undefined && der !== undefined)
    throw new InvalidInputError("policy.tee.rootCaDer", "give one trust anchor: rootCaPem or rootCaDer");
  if (pem !== undefined) {
    if (typeof pem !== "string") throw new InvalidInputError("policy.tee.rootCaPem", "expected PEM text");
    let ders: Uint8Array[];
    try {
      ders = parsePemChain(pem.trim());
    } catch (e) {
      throw new InvalidInputError(
        "policy.tee.rootCaPem",
        `not one PEM CERTIFICATE block: ${(e as Error).message}`,
      );
    }
    if (ders.length !== 1)
      throw new InvalidInputError("policy.tee.rootCaPem", `${ders.length} certificates, expected 1`);
    return ders[0] as Uint8Array;
  }
  if (der === undefined) return INTEL_ROOT;
  if (isBytes(der)) return der.slice();
  if (typeof der === "string")
    return /^(0x)?[0-9a-fA-F]+$/.test(der.trim())
      ? hexToBytesStrict(der, "policy.tee.rootCaDer")
      : base64ToBytes(der, "policy.tee.rootCaDer");
  throw new InvalidInputError("policy.tee.rootCaDer", "expected bytes, hex or base64");
}

function jwksOf(v: unknown): Jwks | undefined {
  if (v === undefined) return undefined;
  const keys = (v as Jwks | null)?.keys;
  if (typeof v !== "object" || v === null || !Array.isArray(keys) || keys.length === 0)
    throw new InvalidInputError("policy.gpu.jwks", "expected { keys: [...] } with at least one key");
  keys.forEach((k, i) => {
    if (typeof k !== "object" || k === null || typeof k.kty !== "string")
      throw new InvalidInputError(`policy.gpu.jwks.keys[${i}]`, "expected a JWK with kty");
  });
  return structuredClone(v as Jwks);
}

/**
 * Merges `input` over {@link defaultPolicy} and validates it up front: unknown fields, wrong types,
 * non-integers, out-of-range numbers, empty allow-lists and pins that cannot be checked (docker digests
 * without the event log, pins without a quote, GPU both required and ignored) throw {@link InvalidInputError}
 * naming the field. Nothing is memoised: a policy changed in place is re-read on the next call.
 *
 * @example
 * resolvePolicy({ tee: { mrtd: ["91eb2b44…"] }, dockerDigests: ["sha256:…"] })
 */
export function resolvePolicy(input?: PolicyInput | undefined): ResolvedPolicy {
  if (input !== undefined && (typeof input !== "object" || input === null || Array.isArray(input)))
    throw new InvalidInputError("policy", "expected an object");
  const top = object(input, "policy");
  const t = object(top.tee, "policy.tee");
  const g = object(top.gpu, "policy.gpu");
  const d = defaultPolicy;
  const f = (k: string) => `policy.tee.${k}`;
  const hex48 = hexOf(48);
  const tee: Policy["tee"] = {
    requireQuote: bool(t.requireQuote, d.tee.requireQuote, f("requireQuote")),
    allowedTeeTypes: list(t.allowedTeeTypes, f("allowedTeeTypes"), oneOf(["tdx", "sgx"] as const)) ?? [
      ...d.tee.allowedTeeTypes,
    ],
    allowedTcbStatuses: list(t.allowedTcbStatuses, f("allowedTcbStatuses"), oneOf(TCB_STATUSES)) ?? [
      ...d.tee.allowedTcbStatuses,
    ],
    allowedQeVendorIds: list(t.allowedQeVendorIds, f("allowedQeVendorIds"), (x, fi) =>
      hexOf(16)(typeof x === "string" ? x.replace(/-/g, "") : x, fi).toUpperCase(),
    ) ?? [...d.tee.allowedQeVendorIds],
    allowedPceIds: list(t.allowedPceIds, f("allowedPceIds"), (x, fi) => hexOf(2)(x, fi).toUpperCase()) ?? [
      ...d.tee.allowedPceIds,
    ],
    reportDataBindings: list(t.reportDataBindings, f("reportDataBindings"), oneOf(BINDINGS)) ?? [
      ...d.tee.reportDataBindings,
    ],
    requireEventLog: bool(t.requireEventLog, d.tee.requireEventLog, f("requireEventLog")),
  };
  const optional = {
    allowedAdvisoryIds: list(t.allowedAdvisoryIds, f("allowedAdvisoryIds"), text, true),
    mrtd: list(t.mrtd, f("mrtd"), hex48),
    rtmr0: list(t.rtmr0, f("rtmr0"), hex48),
    rtmr1: list(t.rtmr1, f("rtmr1"), hex48),
    rtmr2: list(t.rtmr2, f("rtmr2"), hex48),
    mrEnclave: list(t.mrEnclave, f("mrEnclave"), hexOf(32)),
    mrSigner: list(t.mrSigner, f("mrSigner"), hexOf(32)),
    isvProdIds: list(t.isvProdIds, f("isvProdIds"), (x, fi) => int(x, 0, 0, 0xffff, fi) as number),
    minIsvSvn: int(t.minIsvSvn, undefined, 0, 0xffff, f("minIsvSvn")),
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (tee as Record<string, unknown>)[k] = v;
  const gpu: Policy["gpu"] = {
    required: bool(g.required, d.gpu.required, "policy.gpu.required"),
    ignore: bool(g.ignore, d.gpu.ignore, "policy.gpu.ignore"),
    issuers: list(g.issuers, "policy.gpu.issuers", text) ?? [...d.gpu.issuers],
  };
  const jwks = jwksOf(g.jwks);
  if (jwks) gpu.jwks = jwks;
  if (gpu.required && gpu.ignore)
    throw new InvalidInputError("policy.gpu.ignore", "GPU evidence cannot be both required and ignored");
  const anchor = trustAnchorOf(t);
  const out: ResolvedPolicy = {
    tee,
    gpu,
    maxAgeSeconds: int(
      top.maxAgeSeconds,
      d.maxAgeSeconds,
      0,
      10 * 365 * 86400,
      "policy.maxAgeSeconds",
    ) as number,
    maxFutureSkewSeconds: int(
      top.maxFutureSkewSeconds,
      d.maxFutureSkewSeconds,
      0,
      86400,
      "policy.maxFutureSkewSeconds",
    ) as number,
    maxGenerationSeconds: int(
      top.maxGenerationSeconds,
      d.maxGenerationSeconds,
      0,
      86400,
      "policy.maxGenerationSeconds",
    ) as number,
    requireFreshness: bool(top.requireFreshness, d.requireFreshness, "policy.requireFreshness"),
    strict: bool(top.strict, d.strict, "policy.strict"),
    root: anchor.cert,
    rootKey: anchor.key,
  };
  const digests = list(top.dockerDigests, "policy.dockerDigests", dockerDigest);
  if (digests) {
    if (!tee.requireEventLog)
      throw new InvalidInputError(
        "policy.dockerDigests",
        "cannot be checked with tee.requireEventLog false (the compose hash is read from the event log)",
      );
    out.dockerDigests = digests;
  }
  const required = list(
    top.requiredChecks,
    "policy.requiredChecks",
    oneOf(CHECK_NAMES as readonly CheckName[]),
  );
  if (required) out.requiredChecks = required;
  const pinned = [...TDX_PINS, ...SGX_PINS].filter((k) => (tee as Record<string, unknown>)[k] !== undefined);
  if (!tee.requireQuote && (pinned.length > 0 || digests))
    throw new InvalidInputError(
      "policy.tee.requireQuote",
      `pins (${[...pinned, ...(digests ? ["dockerDigests"] : [])].join(", ")}) need a quote: a proof without one would skip them`,
    );
  return out;
}
