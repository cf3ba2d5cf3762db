import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { StorageError, toStorageError } from "./storage-error.js";

/**
 * Opens (creating it if need be) the SQLite file at `path` for the job store, and checks it before
 * anything is served: a new file and its folder are made readable by this user only (0600 / 0700; the
 * -wal and -shm files SQLite adds take the file's mode), the file must pass `PRAGMA quick_check`, its
 * schema is brought up to date (`migrate`), and a write (`probeSql`) must succeed. Throws a
 * {@link StorageError} naming the file when it cannot be used; a disk that is full only for now is not
 * a reason to refuse: `full` is then returned, and the store serves NOT_SERVING until writes succeed.
 */
export function openDatabase(
  path: string,
  migrate: (db: Database.Database) => void,
  probeSql: string,
): { db: Database.Database; full: StorageError | undefined } {
  if (path !== ":memory:") prepareFile(path);
  let db: Database.Database;
  try {
    db = new Database(path);
  } catch (err) {
    throw refusal(err, path, "open");
  }
  try {
    const check = db.pragma("quick_check", { simple: false }) as Array<{ quick_check: string }>;
    const problems = check.map((r) => r.quick_check).filter((r) => r !== "ok");
    if (problems.length) {
      throw new StorageError(
        "damaged",
        "SQLITE_CORRUPT",
        path,
        `the job store ${path} is damaged (PRAGMA quick_check: ${problems.slice(0, 3).join("; ")}); restore it from a backup, or move it aside to start with an empty store`,
      );
    }
    db.pragma("journal_mode = WAL");
    // Commits write the WAL without fsync; the store's durable() fsyncs it (group commit).
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    migrate(db);
  } catch (err) {
    db.close();
    throw refusal(err, path, "open");
  }
  try {
    db.prepare(probeSql).run({ value: String(Date.now()) });
    return { db, full: undefined };
  } catch (err) {
    const storage = toStorageError(err, path, "write");
    if (storage?.problem === "full") return { db, full: storage };
    db.close();
    throw refusal(err, path, "write");
  }
}

function prepareFile(path: string): void {
  const folder = dirname(path);
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unknown";
    throw new StorageError(
      code === "EROFS" ? "read-only" : "unavailable",
      code,
      path,
      `cannot create the folder of the job store ${path} (${code}: ${(err as Error).message}); choose another --db or create the folder`,
      { cause: err },
    );
  }
  if (existsSync(path)) return;
  try {
    closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return;
    throw refusal(err, path, "create");
  }
}

/** The error to refuse to start with: a StorageError naming the file, read-only when it is. */
function refusal(err: unknown, path: string, doing: string): unknown {
  const storage = toStorageError(err, path, doing);
  if (storage && storage.problem !== "read-only" && !writable(path)) {
    return toStorageError(
      { code: "EROFS", message: "the file or its folder cannot be written" },
      path,
      doing,
    );
  }
  return storage ?? err;
}

function writable(path: string): boolean {
  try {
    accessSync(existsSync(path) ? path : dirname(path), constants.W_OK);
    accessSync(dirname(path), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
