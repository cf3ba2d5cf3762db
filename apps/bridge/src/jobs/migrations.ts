import { StorageError } from "./storage-error.js";

/**
 * One step of a store's schema, applied once, in order, inside the transaction that records it in
 * `schema_version` (one row per version applied: version, name, applied_at).
 */
export interface Migration<Db> {
  version: number;
  name: string;
  up(db: Db): void | Promise<void>;
}

/** The migrations after `current`, in order; refuses a store written by a newer bridge. */
export function pendingMigrations<Db>(
  migrations: readonly Migration<Db>[],
  current: number,
  location: string,
): Migration<Db>[] {
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new StorageError(
      "incompatible",
      "SCHEMA_NEWER",
      location,
      `the job store ${location} has schema version ${current}, newer than this bridge knows (${latest}): it was used by a newer bridge; run that version or a later one`,
    );
  }
  return migrations.filter((m) => m.version > current);
}
