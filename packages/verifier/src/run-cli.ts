import type { Collateral } from "./collateral.js";
import { BaseError } from "./errors/base.js";
import { bytesToUtf8, hexToBytesStrict } from "./internal/bytes.js";
import type { PolicyInput } from "./policy.js";
import type { Check } from "./reasons.js";
import { verifyProof } from "./verify-proof.js";
import { verifyQuote } from "./verify-quote.js";

/** Side effects of the CLI, injected so it runs as a plain function in tests. */
export interface CliIo {
  readFile(path: string): Uint8Array | Promise<Uint8Array>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Clock for `proof` without `--now` (unix seconds). */
  now(): number;
}

export const USAGE = `Usage:
  zerog-verify quote <quote-file> --collateral <json-file> --now <unix-seconds> [--policy <file>] [--json]
  zerog-verify proof <file> [--policy <file>] [--collateral <file>] [--now <unix-seconds>] [--json]

  <quote-file>  raw quote bytes, or hex text (0x optional)
  <file>        a ComputeResult as GetResult returns it in proto3 JSON (output + proof), or a bare ComputeProof
  --collateral  collateral JSON in the @phala/dcap-qvl shape
  --policy      policy JSON (see the README's policy reference); default: Intel root, UpToDate only
  --now         verification time; required for quote, defaults to the current time for proof
  --json        print the full check report as JSON

Exit codes: 0 valid, 1 invalid (reason printed), 2 bad usage or unreadable input.`;

class UsageError extends Error {}

interface Args {
  command: string;
  file: string;
  collateral?: string;
  policy?: string;
  now?: number;
  json: boolean;
}

function parseArgs(argv: string[]): Args | "help" {
  const rest: string[] = [];
  const a: Partial<Args> & { json: boolean } = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${arg} needs a value`);
      return v;
    };
    if (arg === "--help" || arg === "-h") return "help";
    else if (arg === "--json") a.json = true;
    else if (arg === "--collateral") a.collateral = value();
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
  if (command === "quote" && a.collateral === undefined)
    throw new UsageError("quote: --collateral is required");
  if (command === "quote" && a.now === undefined) throw new UsageError("quote: --now is required");
  return { ...a, command, file } as Args;
}

class InputError extends Error {}

async function read(io: CliIo, path: string, what: string): Promise<Uint8Array> {
  try {
    return await io.readFile(path);
  } catch (e) {
    throw new InputError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

async function readJson(io: CliIo, path: string, what: string): Promise<unknown> {
  const text = bytesToUtf8(await read(io, path, what));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${what} ${path} is not valid JSON: ${(e as Error).message}`);
  }
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

function printChecks(io: CliIo, checks: Check[]): void {
  for (const c of checks) {
    const mark = c.ok ? "ok  " : c.skipped ? "skip" : "FAIL";
    io.stdout(`  ${mark} ${c.name}${c.reason ? ` [${c.reason}]` : ""}: ${c.message}\n`);
  }
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
    const policy = args.policy ? ((await readJson(io, args.policy, "policy")) as PolicyInput) : undefined;
    const collateral = args.collateral
      ? ((await readJson(io, args.collateral, "collateral")) as Collateral)
      : undefined;
    let report: {
      ok: boolean;
      reason?: string;
      message?: string;
      checks: Check[];
      tcbStatus?: string;
      advisoryIds?: string[];
    };
    if (args.command === "quote") {
      const quote = decodeQuoteFile(await read(io, args.file, "quote"));
      report = await verifyQuote(quote, collateral as Collateral, { now: args.now as number, policy });
    } else {
      const input = await readJson(io, args.file, "proof");
      report = await verifyProof(input as never, { now: args.now ?? io.now(), policy, collateral });
    }
    if (args.json) io.stdout(`${JSON.stringify(report, jsonReplacer, 2)}\n`);
    else {
      io.stdout(
        report.ok
          ? `VALID ${args.command}\n`
          : `INVALID ${args.command}: ${report.reason}: ${report.message}\n`,
      );
      if (report.tcbStatus)
        io.stdout(
          `  TCB status: ${report.tcbStatus}${report.advisoryIds?.length ? ` (${report.advisoryIds.join(", ")})` : ""}\n`,
        );
      printChecks(io, report.checks);
    }
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof InputError) io.stderr(`zerog-verify: ${e.message}\n`);
    else if (e instanceof BaseError) io.stderr(`zerog-verify: ${e.shortMessage}\n`);
    else io.stderr(`zerog-verify: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 2;
  }
}
