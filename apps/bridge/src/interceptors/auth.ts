import { createHash, timingSafeEqual } from "node:crypto";
import { Health, ZeroGError } from "@chaoschain/zerog-core";
import type { Interceptor } from "@connectrpc/connect";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Checks an `authorization` header value against `apiKey`: the error to answer, or undefined when it
 * carries the key. Keys are compared as SHA-256 digests with timingSafeEqual: constant time, whatever
 * the lengths.
 */
export function createApiKeyCheck(
  apiKey: string,
): (authorization: string | undefined) => ZeroGError | undefined {
  const expected = digest(apiKey);
  return (authorization) => {
    const match = /^Bearer\s+(.+)$/i.exec((authorization ?? "").trim());
    if (!match)
      return new ZeroGError("unauthenticated", "missing API key: send `authorization: Bearer <key>`");
    if (!timingSafeEqual(digest(match[1]!), expected))
      return new ZeroGError("unauthenticated", "invalid API key");
    return undefined;
  };
}

/**
 * Requires `authorization: Bearer <apiKey>` on every call but the health service. The HTTP server
 * checks it before reading a request body; this interceptor covers every other transport (in memory).
 */
export function createAuthInterceptor(apiKey: string): Interceptor {
  const check = createApiKeyCheck(apiKey);
  return (next) => async (req) => {
    if (req.service.typeName === Health.typeName) return next(req);
    const error = check(req.header.get("authorization") ?? undefined);
    if (error) throw error;
    return next(req);
  };
}
