import { createHash, timingSafeEqual } from "node:crypto";
import { Health, ZeroGError } from "@chaoschain/zerog-core";
import type { Interceptor } from "@connectrpc/connect";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Requires `authorization: Bearer <apiKey>` on every call but the health service.
 * Keys are compared as SHA-256 digests with timingSafeEqual: constant time, whatever the lengths.
 */
export function createAuthInterceptor(apiKey: string): Interceptor {
  const expected = digest(apiKey);
  return (next) => async (req) => {
    if (req.service.typeName === Health.typeName) return next(req);
    const header = req.header.get("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match) {
      throw new ZeroGError("unauthenticated", "missing API key: send `authorization: Bearer <key>`");
    }
    if (!timingSafeEqual(digest(match[1]!), expected)) {
      throw new ZeroGError("unauthenticated", "invalid API key");
    }
    return next(req);
  };
}
