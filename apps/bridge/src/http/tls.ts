import { readFileSync } from "node:fs";
import tls from "node:tls";

/** The certificate chain and private key files of the listener (PEM). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export class TlsConfigError extends Error {
  override name = "TlsConfigError";
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new TlsConfigError(`cannot read the TLS ${what} ${file} (${(err as NodeJS.ErrnoException).code})`);
  }
}

/** Reads and checks the pair; errors name the files, never their contents. */
export function loadTlsContext(files: TlsFiles): tls.SecureContextOptions {
  const options = { cert: read(files.certFile, "certificate"), key: read(files.keyFile, "key") };
  try {
    tls.createSecureContext(options);
  } catch (err) {
    const reason = (err as Error).message.includes("key values mismatch")
      ? "the key does not belong to the certificate"
      : `not a PEM certificate chain and private key (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`;
    throw new TlsConfigError(`TLS ${files.certFile} / ${files.keyFile}: ${reason}`);
  }
  return options;
}

/**
 * The TLS side of the listener: ALPN offers h2 and http/1.1 on the one port. `reload()` reads the
 * files again (certificate rotation) for new connections; a pair that does not load leaves the
 * current one in force and throws why.
 */
export function createTlsServer(
  files: TlsFiles,
  handshakeTimeoutMs: number,
): { server: tls.Server; reload(): void } {
  const server = tls.createServer({
    ...loadTlsContext(files),
    ALPNProtocols: ["h2", "http/1.1"],
    minVersion: "TLSv1.2",
    handshakeTimeout: handshakeTimeoutMs,
  });
  return {
    server,
    reload: () => server.setSecureContext(loadTlsContext(files)),
  };
}
