import type { Writable } from "node:stream";
import { printableText } from "@chaoschain/zerog-core";
import pino, { type Logger } from "pino";

/** Paths pino blanks wherever they appear in a log object, as a second line of defence. */
export const redactedPaths = [
  "apiKey",
  "walletKey",
  "privateKey",
  "authorization",
  "*.apiKey",
  "*.walletKey",
  "*.privateKey",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
];

/** json: one JSON object per line (for log collectors); pretty: one readable line; auto: pretty on a terminal. */
export type LogFormat = "auto" | "json" | "pretty";

const levelNames: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const levelColors: Record<number, string> = { 10: "90", 20: "36", 30: "32", 40: "33", 50: "31", 60: "35" };
const hidden = new Set(["level", "time", "pid", "hostname", "svc", "msg"]);

function fieldValue(value: unknown): string {
  if (value !== null && typeof value === "object" && "message" in value) {
    const err = value as { type?: string; message: string };
    return printableText(JSON.stringify(err.type ? `${err.type}: ${err.message}` : err.message));
  }
  if (typeof value !== "string") return printableText(JSON.stringify(value) ?? String(value));
  return /^[\x21\x23-\x3c\x3e-\x7e]+$/.test(value) ? value : printableText(JSON.stringify(value));
}

/**
 * One pino JSON line as a line for people: `12:00:01.234 INFO  bridge listening host=127.0.0.1 port=50051`.
 * An error's stack follows, indented. A line that is not pino's JSON is passed through.
 */
export function formatLogLine(line: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith("\n") ? line : `${line}\n`;
  }
  const level = Number(entry.level);
  const name = (levelNames[level] ?? String(entry.level)).padEnd(5);
  const time = new Date(Number(entry.time)).toISOString().slice(11, 23);
  const fields = Object.entries(entry)
    .filter(([k, v]) => !hidden.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${fieldValue(v)}`);
  const head = color ? `\x1b[${levelColors[level] ?? "0"}m${name}\x1b[0m` : name;
  let out = `${time} ${head} ${printableText(String(entry.msg ?? ""))}${fields.length ? `  ${fields.join(" ")}` : ""}\n`;
  const stack = (entry.err as { stack?: unknown } | undefined)?.stack;
  if (typeof stack === "string" && level >= 50)
    out += `${printableText(stack, { lineBreaks: true }).replace(/^/gm, "    ")}\n`;
  return out;
}

export interface CreateLoggerOptions {
  level?: string | undefined;
  /** Default "auto": pretty when the output is a terminal, else JSON. */
  format?: LogFormat | undefined;
  /** Where lines go. Default: stderr (stdout stays for the demo's output). */
  destination?: Writable | pino.DestinationStream | undefined;
  /** Whether the output is a terminal (decides "auto"). Default: stderr's. */
  isTty?: boolean | undefined;
  /** Colour the level of pretty lines. Default: on a terminal, unless NO_COLOR is set. */
  color?: boolean | undefined;
}

/** Logs on stderr, secrets redacted: JSON, or readable lines on a terminal. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const isTty = options.isTty ?? Boolean(process.stderr.isTTY);
  const format =
    options.format === undefined || options.format === "auto" ? (isTty ? "pretty" : "json") : options.format;
  const settings = {
    level: options.level ?? "info",
    redact: { paths: redactedPaths, censor: "[redacted]" },
    base: { svc: "zerog-bridge" },
  };
  if (format === "json") return pino(settings, options.destination ?? pino.destination(2));
  const out = options.destination ?? process.stderr;
  const color = options.color ?? (isTty && !process.env.NO_COLOR);
  return pino(settings, { write: (line: string) => void out.write(formatLogLine(line, color)) });
}
