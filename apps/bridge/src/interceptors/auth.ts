import { Health } from "@chaoschain/zerog-core";
import type { Interceptor } from "@connectrpc/connect";
import { type CallGate, callerKey } from "../auth/call-gate.js";

/**
 * Admits every call but health's (API key, rate limit) and records its caller. The HTTP server does
 * this before reading a request body; this interceptor covers every other transport (in memory).
 */
export function createAuthInterceptor(gate: CallGate): Interceptor {
  return (next) => async (req) => {
    if (req.service.typeName === Health.typeName || req.contextValues.get(callerKey)) return next(req);
    const caller = gate.admit(req.header.get("authorization") ?? undefined);
    if (!("id" in caller)) throw caller;
    req.contextValues.set(callerKey, caller);
    return next(req);
  };
}
