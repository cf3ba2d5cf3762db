import { ComputeService } from "@chaoschain/zerog-core";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { callerKey, traceKey } from "../auth/call-gate.js";

/**
 * Logs each call's procedure, outcome, duration, caller (API key id) and trace id; a Submit's job id
 * at info. Never headers or bodies (they may hold keys).
 */
export function createLoggingInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const context = () => ({
      procedure,
      key: req.contextValues.get(callerKey)?.id,
      traceId: req.contextValues.get(traceKey)?.traceId,
      ms: Math.round(performance.now() - started),
    });
    try {
      const res = await next(req);
      if (req.service.typeName === ComputeService.typeName && req.method.name === "Submit" && !res.stream) {
        logger.info(
          { ...context(), jobId: (res.message as unknown as { jobId: string }).jobId },
          "job submitted",
        );
      } else logger.debug(context(), "rpc ok");
      return res;
    } catch (err) {
      const code = err instanceof ConnectError ? err.code : undefined;
      logger.info({ ...context(), code }, "rpc error");
      throw err;
    }
  };
}
