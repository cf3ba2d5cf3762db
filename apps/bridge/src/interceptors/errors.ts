import { toConnectError, ZeroGError } from "@chaoschain/zerog-core";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { StorageError, storageZeroGError } from "../jobs/storage-error.js";

/**
 * Turns what handlers throw into wire errors: catalogue errors keep their code and details; job store
 * failures are RESOURCE_EXHAUSTED (disk full) or UNAVAILABLE, naming the cause but not the file;
 * anything unexpected is logged and answered `internal` without internals in the message.
 */
export function createErrorInterceptor(logger: Logger): Interceptor {
  const toWire = (err: unknown, procedure: string): ConnectError => {
    if (err instanceof ZeroGError) return toConnectError(err);
    if (err instanceof StorageError) return toConnectError(storageZeroGError(err));
    if (err instanceof ConnectError) return err;
    logger.error({ err, procedure }, "unexpected error in handler");
    return toConnectError(new ZeroGError("internal", "internal error; see the bridge log"));
  };
  return (next) => async (req) => {
    const procedure = req.method.name;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const message = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* message;
          } catch (err) {
            throw toWire(err, procedure);
          }
        })(),
      };
    } catch (err) {
      throw toWire(err, procedure);
    }
  };
}
