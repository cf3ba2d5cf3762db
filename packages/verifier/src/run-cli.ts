import { CHECK_NAMES, type Check, type CheckName, fail } from "./check.js";
import type { Collateral } from "./collateral.js";
import { createPcsCollateralSource } from "./create-pcs-collateral-source.js";
import { BaseError } from "./errors/base.js";
import { type FormattableReport, formatReport, printable } from "./format-report.js";
import { bytesToUtf8, hexToBytesStrict } from "./internal/bytes.js";
import { LIMITS } from "./limits.js";
import type { PolicyInput } from "./policy.js";
import { verifyProof } from "./verify-proof.js";
import { verifyQuote } from "./verify-quote.js";

/** Side effects of the CLI, injected so it runs as a plain function in tests. */
export interface CliIo {
  /** The file's bytes, at most `maxBytes` + 1 of them (a longer answer tells the file is too large). */
  readFile(path: string, maxBytes: number): Uint8Array | Promise<Uint8Array>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Clock for `proof` without `--now` (unix seconds). */
  now(): number;
}

export const USAGE = `Usage:
  zerog-verify quote <quote-file> (--collateral <json-file> | --pccs-url <url>) [--now <unix-seconds>] [options]
  zerog-verify proof <file> [--collateral <file> | --pccs-url <url>] [--now <unix-seconds>] [options]

  <quote-file>  raw quote bytes, or hex text (0x optional)
  <file>        a ComputeResult as GetResult returns it in proto3 JSON (output + proof), or a bare ComputeProof
  --collateral  collateral JSON in the @phala/dcap-qvl shape (proof: default, the collateral embedded in it)
  --pccs-url    fetch the collateral from Intel's PCS (https://api.trustedservices.intel.com) or a PCCS
                with its v4 API, instead of --collateral or the embedded collateral (a network call)
  --now         verification time; required for quote with --collateral, else defaults to the current time

Options:
  --policy <file>    policy JSON (see the README's policy reference); default: Intel root, TDX, UpToDate only
  --strict           any skipped check fails (policy "strict": true)
  --require <check>  this check must pass, not be skipped (repeatable; policy "requiredChecks")
  --json             print the full report as JSON

Exit codes: 0 valid, 1 invalid (reason printed), 2 bad usage, unreadable or malformed caller input
(policy, collateral, options).`;

class UsageError extends Error {}

interface Args {
  command: string;
  file: string;
  collateral?: string;
  pccsUrl?: string;
  policy?: string;
  now?: number;
  json: boolean;
  strict: boolean;
  require: CheckName[];
}

function parseArgs(argv: string[]): Args | "help" {
  const rest: string[] = [];
  const a: Partial<Args> & { json: boolean; strict: boolean; require: CheckName[] } = {
    json: false,
    strict: false,
    require: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === "--help" || arg === "-h") return "help";
    else if (arg === "--json") a.json = true;
    else if (arg === "--strict") a.strict = true;
    else if (arg === "--require") {
      const v = value();
      if (!(CHECK_NAMES as readonly string[]).includes(v))
        throw new UsageError(`--require: unknown check ${v} (checks: ${CHECK_NAMES.join(", ")})`);
      a.require.push(v as CheckName);
    } else if (arg === "--collateral") a.collateral = value();
    else if (arg === "--pccs-url") a.pccsUrl = value();
    else if (arg === "--policy") a.policy = value();
    else if (arg === "--now") {
      const v = value();
      if (!/^\d+$/.test(v)) throw new UsageError(`--now must be unix seconds, got ${v}`);
      a.now = Number(v);
    } else if (arg.startsWith("--")) throw new UsageError(`unknown option ${arg}`);
    else rest.push(arg);
  }
  const [command, file, ...extra] = rest;
  if (!command) throw new UsageError("missing command");
  if (command !== "quote" && command !== "proof") throw new UsageError(`unknown command ${command}`);
  if (!file) throw new UsageError(`${command}: missing input file`);
  if (extra.length) throw new UsageError(`unexpected argument ${extra[0]}`);
  if (a.collateral !== undefined && a.pccsUrl !== undefined)
    throw new UsageError("give one of --collateral and --pccs-url");
  if (command === "quote" && a.collateral === undefined && a.pccsUrl === undefined)
    throw new UsageError("quote: --collateral or --pccs-url is required");
  if (command === "quote" && a.collateral !== undefined && a.now === undefined)
    throw new UsageError("quote: --now is required with --collateral");
  return { ...a, command, file } as Args;
}

class InputError extends Error {}

/** At most `maxBytes` + 1 bytes of a file: the caller tells a longer file from one that fits. */
async function read(io: CliIo, path: string, what: string, maxBytes: number): Promise<Uint8Array> {
  try {
    return await io.readFile(path, maxBytes);
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Largest policy or collateral file read (the caller's own files). */
const MAX_JSON_FILE = 64 * 1024 * 1024;

async function readJson(io: CliIo, path: string, what: string): Promise<unknown> {
  const bytes = await read(io, path, what, MAX_JSON_FILE);
  if (bytes.length > MAX_JSON_FILE)
    throw new InputError(`${what} ${path} is larger than ${MAX_JSON_FILE} bytes`);
  const text = bytesToUtf8(bytes);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${what} ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Largest proof file read: the bodies' limit twice, base64-encoded, plus the rest. */
const MAX_PROOF_FILE = 4 * LIMITS.bodyBytes;
/** Largest quote file read: hex text of the largest quote, with room for whitespace; beyond, input_too_large. */
const MAX_QUOTE_FILE = 4 * LIMITS.quoteBytes;

/** The proof file as JSON, or why it is not one (attacker input: a report, not an error). */
function parseProofFile(bytes: Uint8Array): { value: unknown } | { invalid: Check } {
  if (bytes.length > MAX_PROOF_FILE)
    return {
      invalid: fail(
        "proof.format",
        "input_too_large",
        `the proof file is larger than ${MAX_PROOF_FILE} bytes`,
      ),
    };
  let value: unknown;
  try {
    value = JSON.parse(bytesToUtf8(bytes));
  } catch (e) {
    return {
      invalid: fail("proof.format", "proof_malformed", `the proof file is not JSON: ${(e as Error).message}`),
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return {
      invalid: fail(
        "proof.format",
        "proof_malformed",
        `the proof file is not a JSON object (a ComputeResult or a ComputeProof): ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`,
      ),
    };
  return { value };
}

function invalidProof(check: Check) {
  return { ok: false, reason: check.reason as string, message: check.message, checks: [check], skipped: [] };
}

/** Raw binary, or hex text with optional 0x and whitespace. */
export function decodeQuoteFile(bytes: Uint8Array): Uint8Array {
  const text = bytesToUtf8(bytes).trim();
  if (/^(0x)?[0-9a-fA-F\s]+$/.test(text) && text.replace(/^0x|\s/g, "").length % 2 === 0)
    return hexToBytesStrict(text, "quote file");
  return bytes;
}

function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return Array.from(v, (b) => b.toString(16).padStart(2, "0")).join("");
  return v;
}

/** The policy file with the command line's --strict and --require over it. */
function withFlags(policy: PolicyInput | undefined, args: Args): PolicyInput | undefined {
  if (!args.strict && args.require.length === 0) return policy;
  const out: PolicyInput = { ...policy };
  if (args.strict) out.strict = true;
  if (args.require.length > 0) out.requiredChecks = [...(policy?.requiredChecks ?? []), ...args.require];
  return out;
}

/**
 * The `zerog-verify` command as a function: parses `argv` (without node and script), reads files through
 * `io`, verifies and prints. Returns the exit code: 0 valid, 1 invalid, 2 usage or input error.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let args: Args | "help";
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.stderr(`zerog-verify: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args === "help") {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  try {
    const policyFile = args.policy ? ((await readJson(io, args.policy, "policy")) as PolicyInput) : undefined;
    const policy = withFlags(policyFile, args);
    const collateral = args.pccsUrl
      ? createPcsCollateralSource({ url: args.pccsUrl })
      : args.collateral
        ? ((await readJson(io, args.collateral, "collateral")) as Collateral)
        : undefined;
    let report: FormattableReport;
    if (args.command === "quote") {
      const quote = decodeQuoteFile(await read(io, args.file, "quote", MAX_QUOTE_FILE));
      report = await verifyQuote(quote, collateral as Collateral, { now: args.now ?? io.now(), policy });
    } else {
      const now = args.now ?? io.now();
      const input = parseProofFile(await read(io, args.file, "proof", MAX_PROOF_FILE));
      report =
        "invalid" in input
          ? invalidProof(input.invalid)
          : await verifyProof(input.value as never, { now, policy, collateral });
    }
    io.stdout(
      args.json ? `${JSON.stringify(report, jsonReplacer, 2)}\n` : formatReport(report, args.command),
    );
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof InputError) io.stderr(`zerog-verify: ${printable(e.message)}\n`);
    else if (e instanceof BaseError)
      io.stderr(`zerog-verify: ${[e.shortMessage, ...(e.metaMessages ?? [])].map(printable).join("\n  ")}\n`);
    else
      io.stderr(
        `zerog-verify: unexpected error: ${((e as Error)?.stack ?? String(e)).split("\n").map(printable).join("\n")}\n`,
      );
    return 2;
  }
}
