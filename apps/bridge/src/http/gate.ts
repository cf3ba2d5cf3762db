import { ZeroGError } from "@chaoschain/zerog-core";
import { quoteBounded } from "../wire/violations.js";

/** Origins a browser page may call from: any (`"*"`) or the ones listed (none when empty). */
export type CorsOrigins = "*" | readonly string[];

/** The `access-control-allow-origin` to answer a page of `origin` with; undefined refuses it. */
export function allowedOrigin(origins: CorsOrigins, origin: string): string | undefined {
  if (origins === "*") return "*";
  return origins.includes(origin) ? origin : undefined;
}

export function crossOriginRefused(origin: string): ZeroGError {
  return new ZeroGError(
    "permission_denied",
    `cross-origin calls from ${quoteBounded(origin)} are not allowed: start the bridge with --cors-origin ${quoteBounded(origin)} to allow them`,
  );
}

function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(h);
}

/** The host name of a Host header or :authority ("localhost:50051" → "localhost", "[::1]:1" → "::1"). */
function hostName(authority: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(authority);
  if (bracketed) return bracketed[1]!.toLowerCase();
  return authority.replace(/:\d*$/, "").toLowerCase();
}

/**
 * The Host header check of a bridge listening on `listenHost`: on a loopback address, a request must
 * name a loopback host (or one of `extra`), so a web page whose domain an attacker points at 127.0.0.1
 * (DNS rebinding) cannot reach the bridge. Listening beyond loopback, every host is accepted.
 * Returns the error to answer, or undefined.
 */
export function createHostCheck(
  listenHost: string,
  extra: readonly string[],
): (authority: string | undefined) => ZeroGError | undefined {
  if (!isLoopback(listenHost)) return () => undefined;
  const allowed = new Set(extra.map((h) => h.toLowerCase()));
  return (authority) => {
    const host = authority === undefined ? "" : hostName(authority);
    if (isLoopback(host) || host.endsWith(".localhost") || allowed.has(host)) return undefined;
    return new ZeroGError(
      "permission_denied",
      `the Host header ${quoteBounded(authority ?? "")} does not name this bridge (listening on ${listenHost}); address it as localhost or 127.0.0.1, or add the name with --allowed-hosts`,
    );
  };
}
