import { parseArgs } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import {
  ComputeResultSchema,
  type ErrorCode,
  printableText,
  verificationName,
  ZeroGError,
} from "@chaoschain/zerog-core";
import {
  type Collateral,
  formatReport,
  type PolicyInput,
  resolvePolicy,
  type VerifyProofReturnType,
  verifyProof,
} from "@chaoschain/zerog-verifier";
import { ZeroGComputeAdapter } from "./adapter.js";
import { maxTimeoutSeconds, type VerifyOptions } from "./config.js";
import { ProofVerificationError, verificationHints } from "./errors.js";
import { hex, type JobStatus } from "./views.js";

/** Side effects of the CLI, injected so that it runs as a plain function in tests. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout is a terminal (watch then redraws one progress line). */
  isTTY: boolean;
  /** The terminal's width, when stdout is one (the live line is cut to it). */
  columns?: number | undefined;
  env: Record<string, string | undefined>;
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, text: string): Promise<void>;
  /** Unix seconds. */
  now(): number;
}

/** Exit codes of `zerog`, as documented in the README and the usage text. */
export const exitCodes = {
  ok: 0,
  /** The job failed or was cancelled, or the proof did not verify. */
  failed: 1,
  /** Bad usage or input: unknown flag, malformed task, unreadable file, unknown job id. */
  usage: 2,
  /** No working bridge: unreachable, not a bridge, refused the API key, over capacity. */
  unavailable: 3,
  /** Still running when the wait ended. */
  timeout: 4,
} as const;

export const USAGE = `Usage: zerog <command> [options]

Commands:
  submit --model <m> --prompt <text> [--verification tee-ml] [--wait] [--timeout <s>] [--json]
                              submit an inference; prints the job id (with --wait, the output)
  submit --task-type fine-tuning --model <base model> (--dataset <d> | --dataset-file <f>)
         [--params <json>] [--wait] [--timeout <s>] [--json]
                              fine-tune a base model; --dataset: inline JSONL, file:// (bridge host),
                              https:// or a 0G Storage root hash; --dataset-file sends a local file inline;
                              --params: training parameters, e.g. '{"num_train_epochs":2}'
                              (with --wait, the model's artifact reference {"path","sha256","size"})
  status <job-id> [--json]    the job's state (pending, running, completed, failed, cancelled)
  result <job-id> [--wait] [--timeout <s>] [--out <file>] [--json]
                              the output, once its proof verified here; --out writes the whole
                              result (output + proof) as JSON
  watch <job-id>              follow the job (progress, stage, message): a live line on a terminal,
                              one line per change otherwise
  services [--model <m>] [--type fine-tuning] [--json]
                              provider services on offer (model, verification, GPU, price); --type
                              fine-tuning: the base models that can be fine-tuned
  cancel <job-id>             cancel a queued or running job
  verify <result.json> [--policy <file>] [--collateral <file>] [--now <unix-s>] [--json]
                              verify a result written by 'result --out', offline (default: the
                              collateral embedded in it)

Options:
  --url <address>             bridge address [ZEROG_GRPC_URL], default localhost:50051
  --policy <file>             verifier policy for result, submit --wait and verify [ZEROG_VERIFY_POLICY];
                              default: Intel's root, TDX, UpToDate. The devnet's: .zerog/devnet-policy.json
  --no-verify                 result, submit --wait: do not verify the proof here (the bridge's checks only)
  -h, --help                  this text
  -V, --version               the version

The API key is read from ZEROG_API_KEY only (never a flag, so it stays out of shell history).
Timeouts default to ZEROG_TIMEOUT_SECONDS (300).

Exit codes:
  0  done (result printed, job cancelled, proof valid)
  1  the job failed or was cancelled, or the proof did not verify
  2  bad usage or input (unknown flag, malformed task, unreadable file, unknown job id)
  3  no working bridge at the address (unreachable, not a bridge, key refused, over capacity)
  4  still running when the wait ended`;

class UsageError extends Error {}

const commands = ["submit", "status", "result", "watch", "services", "cancel", "verify"] as const;
type Command = (typeof commands)[number];

const options = {
  url: { type: "string" },
  model: { type: "string" },
  prompt: { type: "string" },
  "task-type": { type: "string" },
  dataset: { type: "string" },
  "dataset-file": { type: "string" },
  params: { type: "string" },
  type: { type: "string" },
  verification: { type: "string" },
  wait: { type: "boolean" },
  timeout: { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
  policy: { type: "string" },
  "no-verify": { type: "boolean" },
  collateral: { type: "string" },
  now: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** Which options each command takes (besides --url). */
const allowed: Record<Command, string[]> = {
  submit: [
    "model",
    "prompt",
    "task-type",
    "dataset",
    "dataset-file",
    "params",
    "verification",
    "wait",
    "timeout",
    "json",
    "policy",
    "no-verify",
  ],
  status: ["json"],
  result: ["wait", "timeout", "out", "json", "policy", "no-verify"],
  watch: [],
  services: ["model", "type", "json"],
  cancel: ["json"],
  verify: ["policy", "collateral", "now", "json"],
};

type Flags = {
  [K in keyof typeof options]?: (typeof options)[K]["type"] extends "boolean" ? boolean : string;
};

function exitCodeOf(code: ErrorCode): number {
  switch (code) {
    case "job_failed":
    case "job_cancelled":
      return exitCodes.failed;
    case "wait_timeout":
    case "job_not_finished":
      return exitCodes.timeout;
    case "invalid_argument":
    case "job_not_found":
    case "unsupported_task":
    case "no_service":
      return exitCodes.usage;
    default:
      return exitCodes.unavailable;
  }
}

function percent(p: number): string {
  return `${Math.round(p * 100)}%`;
}

/** The bridge's text as one line, inert on a terminal (no escapes, no line of its own). */
const oneLine = (text: string) => printableText(text);

/** The bridge's text, its line breaks kept; on a terminal, escapes and other controls shown as text. */
const inert = (text: string) => printableText(text, { lineBreaks: true });

/** `job_… running 45% [Training] training, step 2 of 4`: state, progress, the provider's stage, message. */
function statusLine(s: JobStatus, bar = false): string {
  const extra = oneLine(s.error ? `${s.error.reason}: ${s.error.message}` : s.message);
  const filled = Math.round(Math.min(1, Math.max(0, s.progress)) * 20);
  const meter = bar ? ` ${"#".repeat(filled)}${"-".repeat(20 - filled)}` : "";
  const stage = s.stage ? ` [${oneLine(s.stage)}]` : "";
  return `${oneLine(s.jobId)} ${s.state}${meter} ${percent(s.progress)}${stage}${extra ? ` ${extra}` : ""}`;
}

function positiveSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`${flag} must be a positive number of seconds, got ${value}`);
  if (n > maxTimeoutSeconds)
    throw new UsageError(`${flag} must be at most ${maxTimeoutSeconds} seconds (24.8 days), got ${value}`);
  return n;
}

async function readJson(io: CliIo, path: string, what: string): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await io.readFile(path);
  } catch (e) {
    throw new UsageError(
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new UsageError(`${what} ${path} is not JSON: ${(e as Error).message}`);
  }
}

/** Which policy file the command uses: --policy, else ZEROG_VERIFY_POLICY; undefined: Intel's default. */
function policyFile(flags: Flags, io: CliIo): { path: string; from: string } | undefined {
  if (flags.policy !== undefined) return { path: flags.policy, from: "--policy" };
  const env = io.env.ZEROG_VERIFY_POLICY;
  return env ? { path: env, from: "ZEROG_VERIFY_POLICY" } : undefined;
}

/** How the command's policy is named in messages. */
function policySource(flags: Flags, io: CliIo): string {
  const file = policyFile(flags, io);
  return file
    ? `the policy in ${file.path} (${file.from})`
    : "Intel's default policy (no --policy, no ZEROG_VERIFY_POLICY)";
}

/** The command's verifier policy, read and validated (a bad one is a usage error naming the file). */
async function readPolicy(
  io: CliIo,
  flags: Flags,
): Promise<{ value: PolicyInput; source: string } | undefined> {
  const file = policyFile(flags, io);
  if (!file || flags["no-verify"]) return undefined;
  const value = (await readJson(io, file.path, `policy (${file.from})`)) as PolicyInput;
  try {
    resolvePolicy(value);
  } catch (e) {
    throw new UsageError(
      `policy ${file.path} (${file.from}): ${(e as { shortMessage?: string }).shortMessage ?? (e as Error).message}`,
    );
  }
  return { value, source: policySource(flags, io) };
}

/** A report as zerog-verify prints it, then what to do when the proof did not verify. */
function printReport(io: CliIo, report: VerifyProofReturnType, policy: string): void {
  io.stdout(inert(formatReport(report, "proof")));
  if (!report.ok) for (const hint of verificationHints(report, policy)) io.stdout(`  hint: ${hint}\n`);
}

function jsonText(value: unknown): string {
  const replacer = (_k: string, v: unknown) =>
    typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? hex(v) : v;
  // JSON escapes C0 controls itself; the rest (C1, bidi overrides) as \uXXXX, which JSON reads back.
  return `${inert(JSON.stringify(value, replacer, 2))}\n`;
}

/**
 * The `zerog` command as a function: parses `argv` (without node and script), calls the bridge
 * through the adapter, prints, and returns the exit code (see {@link exitCodes}).
 */
export async function runCli(argv: string[], io: CliIo, version: string): Promise<number> {
  let flags: Flags;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    flags = parsed.values as Flags;
    positionals = parsed.positionals;
  } catch (e) {
    io.stderr(`zerog: ${(e as Error).message}\n\n${USAGE}\n`);
    return exitCodes.usage;
  }
  if (flags.version) {
    io.stdout(`zerog ${version}\n`);
    return exitCodes.ok;
  }
  const [command, ...args] = positionals;
  if (flags.help || command === "help") {
    io.stdout(`${USAGE}\n`);
    return exitCodes.ok;
  }
  let zerog: ZeroGComputeAdapter | undefined;
  try {
    if (!command) throw new UsageError("missing command");
    if (!(commands as readonly string[]).includes(command))
      throw new UsageError(`unknown command ${command}`);
    const cmd = command as Command;
    for (const name of Object.keys(flags)) {
      if (name !== "url" && !allowed[cmd].includes(name))
        throw new UsageError(`${cmd} does not take --${name}`);
    }
    const arity = cmd === "submit" || cmd === "services" ? 0 : 1;
    if (args.length !== arity) {
      throw new UsageError(
        arity === 0
          ? `${cmd} takes no arguments, got ${args.join(" ")}`
          : `${cmd} needs one ${cmd === "verify" ? "result file" : "job id"}`,
      );
    }
    const timeoutS = positiveSeconds(flags.timeout, "--timeout");
    if (flags.policy !== undefined && flags["no-verify"])
      throw new UsageError("--policy and --no-verify contradict each other");
    const policy = await readPolicy(io, flags);
    if (cmd === "verify") return await verify(io, args[0] as string, flags, policy);
    const verifyOptions: VerifyOptions | false = flags["no-verify"]
      ? false
      : { ...(policy ? { policy: policy.value } : {}) };
    zerog = new ZeroGComputeAdapter({ ...(flags.url ? { grpcUrl: flags.url } : {}), verify: verifyOptions });
    switch (cmd) {
      case "submit":
        return await submit(io, zerog, flags, timeoutS);
      case "status": {
        const s = await zerog.status(args[0] as string);
        io.stdout(flags.json ? jsonText(s) : `${statusLine(s)}\n`);
        return s.state === "failed" || s.state === "cancelled" ? exitCodes.failed : exitCodes.ok;
      }
      case "result":
        return await result(io, zerog, args[0] as string, flags, timeoutS, policySource(flags, io));
      case "watch":
        return await watch(io, zerog, args[0] as string);
      case "services": {
        const services = await zerog.listServices({
          ...(flags.model ? { model: flags.model } : {}),
          ...(flags.type ? { serviceType: flags.type } : {}),
        });
        if (flags.json) {
          io.stdout(jsonText(services.map(({ $typeName: _, ...s }) => s)));
        } else {
          for (const s of services) {
            io.stdout(
              `${oneLine(s.model)}\t${verificationName(s.verifiability) ?? "-"}\t${oneLine(s.gpuType) || "-"}\t${oneLine(s.providerAddress)}\t` +
                (s.serviceType === "fine-tuning"
                  ? `fine-tuning: ${oneLine(s.inputPriceNeuron)} neuron per token per epoch\n`
                  : `in ${oneLine(s.inputPriceNeuron)} / out ${oneLine(s.outputPriceNeuron)} neuron per token\n`),
            );
          }
        }
        return exitCodes.ok;
      }
      case "cancel": {
        const jobId = args[0] as string;
        const cancelled = await zerog.cancel(jobId);
        const state = cancelled ? "cancelled" : (await zerog.status(jobId)).state;
        io.stdout(
          flags.json
            ? jsonText({ job_id: jobId, cancelled, state })
            : `${jobId} ${cancelled ? "cancelled" : `had already ended: ${state}`}\n`,
        );
        return cancelled ? exitCodes.ok : exitCodes.failed;
      }
    }
    return exitCodes.usage;
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`zerog: ${inert(e.message)}\n\nRun 'zerog --help' for usage.\n`);
      return exitCodes.usage;
    }
    if (e instanceof ZeroGError) {
      io.stderr(`zerog: ${inert(e.message)}\n`);
      return exitCodeOf(e.code);
    }

    io.stderr(`zerog: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return exitCodes.unavailable;
  } finally {
    zerog?.close();
  }
}

async function submit(io: CliIo, zerog: ZeroGComputeAdapter, flags: Flags, timeoutS: number | undefined) {
  if (!flags.model) throw new UsageError("submit needs --model");
  if (timeoutS !== undefined && !flags.wait) throw new UsageError("--timeout goes with --wait");
  const taskType = flags["task-type"] ?? "inference";
  const jobId = await zerog.submit(
    taskType === "inference"
      ? inferenceTask(flags)
      : {
          task_type: taskType,
          model: flags.model,
          inputs: {
            dataset: await datasetOf(io, flags),
            ...(flags.params ? { extras: paramsOf(flags.params) } : {}),
          },
          verification: flags.verification ?? "tee-ml",
        },
  );
  if (!flags.wait) {
    io.stdout(flags.json ? jsonText({ job_id: jobId }) : `${jobId}\n`);
    return exitCodes.ok;
  }
  return result(io, zerog, jobId, { ...flags, wait: true }, timeoutS, policySource(flags, io));
}

function inferenceTask(flags: Flags) {
  if (flags.prompt === undefined) throw new UsageError("submit needs --prompt");
  for (const f of ["dataset", "dataset-file", "params"] as const)
    if (flags[f] !== undefined) throw new UsageError(`--${f} is for fine-tuning (--task-type fine-tuning)`);
  return {
    task_type: "inference",
    model: flags.model as string,
    inputs: { prompt: flags.prompt },
    verification: flags.verification ?? "tee-ml",
  };
}

/** `--dataset` as given, or the local `--dataset-file` read and sent inline. */
async function datasetOf(io: CliIo, flags: Flags): Promise<string> {
  if (flags.prompt !== undefined)
    throw new UsageError("--prompt is for inference; fine-tuning takes --dataset");
  if ((flags.dataset === undefined) === (flags["dataset-file"] === undefined))
    throw new UsageError("fine-tuning needs one of --dataset or --dataset-file");
  if (flags.dataset !== undefined) return flags.dataset;
  const path = flags["dataset-file"] as string;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(await io.readFile(path));
  } catch (e) {
    throw new UsageError(
      `cannot read dataset ${path}: ${(e as NodeJS.ErrnoException).code ?? "not UTF-8 text"}`,
    );
  }
}

function paramsOf(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--params must be a JSON object, e.g. '{"num_train_epochs":2}'`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UsageError(`--params must be a JSON object, e.g. '{"num_train_epochs":2}'`);
  return value as Record<string, unknown>;
}

async function result(
  io: CliIo,
  zerog: ZeroGComputeAdapter,
  jobId: string,
  flags: Flags,
  timeoutS: number | undefined,
  policy: string,
) {
  const writeOut = async (raw: Parameters<typeof toJson<typeof ComputeResultSchema>>[1]) => {
    if (flags.out)
      await io.writeFile(flags.out, jsonText(toJson(ComputeResultSchema, raw, { useProtoFieldName: true })));
  };
  let r: Awaited<ReturnType<ZeroGComputeAdapter["result"]>>;
  try {
    r = await zerog.result(jobId, { wait: flags.wait ?? false, ...(timeoutS ? { timeoutS } : {}) });
  } catch (e) {
    if (!(e instanceof ProofVerificationError)) throw e;
    await writeOut(e.raw);
    io.stderr(
      `zerog: ${inert(e.shortMessage)}\n${verificationHints(e.report, policy)
        .map((h) => `  ${h}\n`)
        .join("")}`,
    );
    if (flags.out)
      io.stderr(
        `zerog: the result (NOT verified) was written to ${flags.out}; check it with 'zerog verify ${flags.out} --policy <file>'\n`,
      );
    return exitCodes.failed;
  }
  await writeOut(r.raw);
  const verified = r.verification ? "verified here" : "NOT verified here (--no-verify)";
  if (flags.json) {
    io.stdout(
      jsonText({
        job_id: r.jobId,
        output: r.output,
        execution_hash: r.execution_hash,
        verification_method: r.verification_method.value,
        metadata: r.metadata,
        verification: r.verification ?? null,
      }),
    );
  } else {
    // A pipe gets the output exactly; a terminal gets it inert.
    const output = io.isTTY ? inert(r.output) : r.output;
    io.stdout(output.endsWith("\n") ? output : `${output}\n`);
    const skippedChecks = r.verification?.checks.filter((c) => c.status === "skipped") ?? [];
    const skipped = skippedChecks.length
      ? `; skipped: ${skippedChecks.map((c) => `${c.name} (${(c.skipReason ?? "skipped").replaceAll("_", " ")})`).join(", ")}`
      : "";
    // Whether the signed request is the task's is said either way: a comparison not made is no pass.
    const task = !r.verification
      ? ""
      : r.taskCheck === "verified"
        ? ", answering the task submitted"
        : "; its task not compared (only inference tasks submitted here are)";
    io.stderr(`zerog: proof ${verified}${r.verification ? ` under ${policy}` : ""}${task}${skipped}\n`);
  }
  if (flags.out && !flags.json) io.stderr(`zerog: result with proof written to ${flags.out}\n`);
  return exitCodes.ok;
}

async function watch(io: CliIo, zerog: ZeroGComputeAdapter, jobId: string) {
  let last: JobStatus | undefined;
  try {
    for await (const update of zerog.watch(jobId)) {
      last = update.status;
      if (io.isTTY) {
        // One line, redrawn in place; output deltas of streamed inference follow the line.
        io.stdout(
          `\r\x1b[2K${fit(statusLine(last, true), io.columns)}${update.outputDelta ? ` ${oneLine(update.outputDelta)}` : ""}`,
        );
      } else {
        io.stdout(`${new Date(io.now() * 1000).toISOString()} ${statusLine(last)}\n`);
        // One line per delta: a line of its own could pass for a status line.
        if (update.outputDelta) io.stdout(`${oneLine(update.outputDelta)}\n`);
      }
    }
  } finally {
    // The live line ends before what follows it: the end, or an error on stderr.
    if (io.isTTY && last) io.stdout("\n");
  }
  return last?.state === "completed" ? exitCodes.ok : exitCodes.failed;
}

/** A live line longer than the terminal would wrap, and `\r` would then redraw only its last row. */
function fit(line: string, columns: number | undefined): string {
  return columns && line.length >= columns ? `${line.slice(0, Math.max(0, columns - 2))}…` : line;
}

async function verify(
  io: CliIo,
  file: string,
  flags: Flags,
  policy: { value: PolicyInput; source: string } | undefined,
) {
  const input = await readJson(io, file, "result");
  const collateral = flags.collateral
    ? ((await readJson(io, flags.collateral, "collateral")) as Collateral)
    : undefined;
  let now = io.now();
  if (flags.now !== undefined) {
    if (!/^\d+$/.test(flags.now)) throw new UsageError(`--now must be unix seconds, got ${flags.now}`);
    now = Number(flags.now);
  }
  let report: VerifyProofReturnType;
  try {
    report = await verifyProof(input as never, { now, policy: policy?.value, collateral });
  } catch (e) {
    throw new UsageError(`${file}: ${(e as { shortMessage?: string }).shortMessage ?? (e as Error).message}`);
  }
  if (flags.json) io.stdout(jsonText(report));
  else printReport(io, report, policy?.source ?? policySource(flags, io));
  return report.ok ? exitCodes.ok : exitCodes.failed;
}
