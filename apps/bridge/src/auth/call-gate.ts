import { ZeroGError } from "@chaoschain/zerog-core";
import { createContextKey } from "@connectrpc/connect";
import type { TraceContext } from "../http/trace-context.js";
import type { RateLimiter } from "../limits/rate-limiter.js";
import type { Caller, KeyLimits, KeyRing } from "./api-keys.js";

/** The caller of a call, set once it is admitted (key id and limits; never the key). */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "zerog caller" });
/** The call's W3C trace context. */
export const traceKey = createContextKey<TraceContext | undefined>(undefined, { description: "zerog trace" });

/** Without keys, every caller is this one (one rate bucket and quota for all). */
export const anonymous: Caller = { id: "anonymous" };

/** Admits calls: who the caller is (API key), and whether its rate allows one more call now. */
export interface CallGate {
  /** Whether calls need a key. */
  readonly authenticates: boolean;
  /** The caller, or the error to answer (`unauthenticated`, `rate_limited` with a retry delay). */
  admit(authorization: string | undefined): Caller | ZeroGError;
  /**
   * Whether `authorization` carries a valid key (no rate taken): for GET /metrics. `operator`: only a key
   * that reaches every key's jobs (`allJobs` in the keys file). Without keys, every caller.
   */
  authorized(authorization: string | undefined, operator?: boolean): boolean;
}

export interface CallGateOptions {
  /** The keys in force; undefined: no authentication. */
  keys: KeyRing | undefined;
  /** Limits of keys that set none, and of anonymous callers. */
  defaults: KeyLimits;
  limiter: RateLimiter;
  onRateLimited?: (caller: Caller) => void;
}

export function createCallGate(o: CallGateOptions): CallGate {
  return {
    authenticates: o.keys !== undefined,
    admit(authorization) {
      const caller = o.keys ? o.keys.identify(authorization) : anonymous;
      if (caller instanceof ZeroGError) return caller;
      const perSecond = caller.rateLimit ?? o.defaults.rateLimit;
      if (perSecond === undefined) return caller;
      const burst = caller.rateBurst ?? o.defaults.rateBurst ?? Math.max(1, perSecond);
      const waitMs = o.limiter.take(caller.id, { perSecond, burst });
      if (waitMs === undefined) return caller;
      o.onRateLimited?.(caller);
      return new ZeroGError(
        "rate_limited",
        `API key ${caller.id} is over its rate of ${perSecond} calls per second (burst ${burst}); retry in ${waitMs} ms`,
        { retryDelayMs: waitMs },
      );
    },
    authorized(authorization, operator = false) {
      if (!o.keys) return true;
      const caller = o.keys.identify(authorization);
      return !(caller instanceof ZeroGError) && (!operator || caller.allJobs === true);
    },
  };
}
