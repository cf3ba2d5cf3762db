import { StorageError, type StorageProblem } from "./storage-error.js";

/** Errors of the connection rather than of a statement (node's and node-postgres's own). */
const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
const connectionMessages =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Query read timeout|Connection ended|connection timeout/i;

function classify(code: string | undefined, message: string): StorageProblem | undefined {
  if (code === undefined) return connectionMessages.test(message) ? "unavailable" : undefined;
  if (code === "53100") return "full";
  if (code === "25006") return "read-only";
  if (code === "XX001" || code === "XX002") return "damaged";
  if (connectionCodes.has(code)) return "unavailable";
  // 08: connection exception; 57P: admin shutdown, crash shutdown, cannot connect now; 53: out of
  // resources; 58: system (I/O) error; 28: the credentials were refused; 3D000: no such database.
  if (/^(08|57P|53|58|28)/.test(code) || code === "3D000") return "unavailable";
  return undefined;
}

const what: Record<StorageProblem, string> = {
  full: "the database server's disk is full",
  "read-only": "the database is read-only (a standby?)",
  damaged: "the database reports damaged data",
  unavailable: "the database cannot be reached or refused the connection",
  incompatible: "its schema is not one this bridge knows",
};

const fixes: Record<StorageProblem, string> = {
  full: "free space on the database server; the bridge takes jobs again by itself",
  "read-only": "point ZEROG_DATABASE_URL at the writable primary",
  damaged: "check the database server's log and restore from a backup",
  unavailable:
    "check that the database server is up, reachable and accepts these credentials; the bridge retries by itself",
  incompatible: "run the bridge version that wrote it, or a later one",
};

/**
 * The {@link StorageError} for an error from node-postgres while using the store at `location` (the
 * URL without its password); undefined for any other error (a bug in a statement, not storage).
 */
export function toPostgresStorageError(
  err: unknown,
  location: string,
  doing: string,
): StorageError | undefined {
  if (err instanceof StorageError) return err;
  if (!(err instanceof Error)) return undefined;
  const raw = (err as { code?: unknown }).code;
  const code = typeof raw === "string" ? raw : undefined;
  const problem = classify(code, err.message);
  if (!problem) return undefined;
  return new StorageError(
    problem,
    code ?? "CONNECTION_LOST",
    location,
    `cannot ${doing} the job store ${location}: ${what[problem]} (${code ?? "connection lost"}: ${err.message}); ${fixes[problem]}`,
    { cause: err },
  );
}

/** A failure that waiting may end (the server is down or starting), not one of configuration. */
export function isTransient(err: StorageError): boolean {
  return (
    err.problem === "unavailable" &&
    (connectionCodes.has(err.code) || /^(08|57P)/.test(err.code) || err.code === "CONNECTION_LOST")
  );
}

/** `url` without its password or query string, to name the database in messages and logs. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    parsed.search = "";
    return parsed.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}
