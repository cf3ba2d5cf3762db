import { ZeroGError } from "@chaoschain/zerog-core";

/** What is wrong with the job store's storage. */
export type StorageProblem = "full" | "read-only" | "damaged" | "unavailable" | "incompatible";

/**
 * The job store could not read or write its file. `message` is for the operator (it names the file);
 * {@link storageZeroGError} gives what a caller is told.
 */
export class StorageError extends Error {
  override name = "StorageError";
  readonly problem: StorageProblem;
  /** SQLite's or the system's error code, e.g. SQLITE_FULL, ENOSPC. */
  readonly code: string;
  readonly path: string;

  constructor(
    problem: StorageProblem,
    code: string,
    path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.problem = problem;
    this.code = code;
    this.path = path;
  }
}

function classify(code: string): StorageProblem | undefined {
  if (code === "SQLITE_FULL" || code === "ENOSPC" || code === "EDQUOT") return "full";
  if (code.startsWith("SQLITE_READONLY") || code === "EROFS" || code === "EACCES" || code === "EPERM")
    return "read-only";
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") return "damaged";
  if (/^SQLITE_(IOERR|CANTOPEN|BUSY|LOCKED|PROTOCOL)/.test(code) || code === "EIO") return "unavailable";
  return undefined;
}

const fixes: Record<StorageProblem, string> = {
  full: "free space on its volume; the bridge takes jobs again by itself",
  "read-only": "give the bridge's user write access to it, its folder and its -wal and -shm files",
  damaged: "restore it from a backup, or move it aside to start with an empty store",
  unavailable: "check the volume (see the system log); the bridge retries by itself",
  incompatible: "run the bridge version that wrote it, or a later one",
};

/**
 * The {@link StorageError} for an error thrown by SQLite or the file system while using the store at
 * `path`; undefined for any other error (a bug, not storage).
 */
export function toStorageError(err: unknown, path: string, doing: string): StorageError | undefined {
  if (err instanceof StorageError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  const problem = classify(code);
  if (!problem) return undefined;
  const what = {
    full: "the disk is full",
    "read-only": "it is read-only",
    damaged: code === "SQLITE_NOTADB" ? "it is not a SQLite database" : "it is damaged",
    unavailable: "the disk reports an error",
    incompatible: "its schema is not one this bridge knows",
  }[problem];
  return new StorageError(
    problem,
    code,
    path,
    `cannot ${doing} the job store ${path}: ${what} (${code}: ${(err as Error).message}); ${fixes[problem]}`,
    { cause: err },
  );
}

/** What a caller is told about a storage error: the cause, not the file's path. */
export function storageZeroGError(err: StorageError): ZeroGError {
  return err.problem === "full"
    ? new ZeroGError(
        "storage_full",
        `the bridge's ${/^postgres/.test(err.path) ? "database" : "disk"} is full: it cannot store jobs now (${err.code})`,
        {
          cause: err,
        },
      )
    : new ZeroGError(
        "storage_unavailable",
        `the bridge cannot use its job store now: ${describeProblem(err)}`,
        {
          cause: err,
        },
      );
}

function describeProblem(err: StorageError): string {
  return `${{ "read-only": "it is read-only", damaged: "it is damaged", unavailable: "it cannot be reached or reports an error", incompatible: "its schema is newer than this bridge", full: "" }[err.problem]} (${err.code})`;
}
