import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";

/** Logs each call's procedure, outcome and duration; never headers or bodies (they may hold keys). */
export function createLoggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = `${req.service.typeName}/${req.method.name}`;
    try {
      const res = await next(req);
      logger.debug({ procedure, ms: Math.round(performance.now() - started) }, "rpc ok");
      return res;
    } catch (err) {
      const code = err instanceof ConnectError ? err.code : undefined;
      logger.info({ procedure, code, ms: Math.round(performance.now() - started) }, "rpc error");
      throw err;
    }
  };
}
