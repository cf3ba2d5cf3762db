import type { Interceptor } from "@connectrpc/connect";

/** Sends `authorization: Bearer <key>` with every call when there is a key. */
export function bearer(apiKey: string | undefined): Interceptor {
  return (next) => (req) => {
    if (apiKey) req.header.set("authorization", `Bearer ${apiKey}`);
    return next(req);
  };
}
