import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { callerKey } from "../auth/call-gate.js";

/** Records one answered call: method ("package.Service/Method"), code ("ok" or the gRPC code name), caller key id. */
export type ObserveCall = (method: string, code: string, key: string, seconds: number) => void;

/** The code name of what a call threw: "unavailable", "resource_exhausted", … */
export function codeName(err: unknown): string {
  return codeToString(err instanceof ConnectError ? err.code : Code.Unknown);
}

/**
 * Counts each call by method, code and caller, with its duration; a streaming call when its stream
 * ends. (Calls refused before they reach connect are counted by the HTTP handler.)
 */
export function createMetricsInterceptor(observe: ObserveCall): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    const method = `${req.service.typeName}/${req.method.name}`;
    const done = (code: string) =>
      observe(method, code, req.contextValues.get(callerKey)?.id ?? "", (performance.now() - started) / 1000);
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      done(codeName(err));
      throw err;
    }
    if (!res.stream) {
      done("ok");
      return res;
    }
    const message = res.message;
    return {
      ...res,
      message: (async function* () {
        // A client that stops reading ends the stream without an error: canceled.
        let code = "canceled";
        try {
          yield* message;
          code = "ok";
        } catch (err) {
          code = codeName(err);
          throw err;
        } finally {
          done(code);
        }
      })(),
    } as typeof res;
  };
}
