/** A PostgreSQL server for one test file or benchmark (see postgres.js). */
export interface TestPostgres {
  port: number;
  /** Connection URL of `database` (default `postgres`), with the password. */
  url(database?: string): string;
  /** Creates a new empty database; resolves with its URL. */
  createDatabase(): Promise<string>;
  /** Fast shutdown (clients are disconnected); the data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  close(): Promise<void>;
}

export function startPostgres(options?: { flags?: string[] }): Promise<TestPostgres>;
