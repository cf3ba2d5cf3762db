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

/** JSON logs on stderr (stdout stays for the demo's output), secrets redacted. */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      redact: { paths: redactedPaths, censor: "[redacted]" },
      base: { svc: "zerog-bridge" },
    },
    options.destination ?? pino.destination(2),
  );
}
