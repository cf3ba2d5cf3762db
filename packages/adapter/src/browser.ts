// Browser entry of @chaoschain/zerog-adapter: Connect or gRPC-web over fetch, no Node built-ins.
import { ZeroGError } from "@chaoschain/zerog-core";
import type { ConnectError } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { type AdapterConnection, ZeroGComputeAdapterBase } from "./adapter-base.js";
import { bearer } from "./bearer.js";
import { type ResolvedAdapterConfig, resolveConfig, type ZeroGComputeAdapterOptions } from "./config.js";
import { type CallContext, serverText } from "./errors.js";

export * from "./exports.js";

/** Browser adapter settings: those of the Node adapter, plus the protocol spoken over fetch. */
export interface BrowserAdapterOptions extends ZeroGComputeAdapterOptions {
  /** `"connect"` (default; binary Connect protocol) or `"grpc-web"`. */
  protocol?: "connect" | "grpc-web" | undefined;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof globalThis.fetch | undefined;
}

function fetchConnection(options: BrowserAdapterOptions, config: ResolvedAdapterConfig): AdapterConnection {
  const common = {
    baseUrl: config.baseUrl,
    interceptors: [bearer(config.apiKey)],
    readMaxBytes: config.maxResponseBytes,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  return {
    transport:
      options.protocol === "grpc-web"
        ? createGrpcWebTransport(common)
        : createConnectTransport({ ...common, useBinaryFormat: true }),
    async explain(err: ConnectError, ctx: CallContext): Promise<ZeroGError> {
      // A browser says no more than "Failed to fetch" (refused, TLS, or CORS alike).
      return new ZeroGError("unavailable", `${ctx.method} to ${ctx.baseUrl} failed: ${serverText(err)}`, {
        cause: err,
        metaMessages: [
          "Is the bridge running at that address, with http:// or https:// as it serves?",
          "A page on another origin needs the bridge to allow it (zerog-bridge --cors-origin).",
        ],
      });
    },
    close() {},
  };
}

/**
 * The bridge client for browsers: the same methods as the Node adapter, over Connect (binary) or
 * gRPC-web through `fetch`. `grpcUrl` must be an `http(s)://` URL the page may call.
 *
 * @example
 * import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter/browser";
 * const zerog = new ZeroGComputeAdapter({ grpcUrl: "http://127.0.0.1:50051" });
 * const result = await zerog.inference("llama-3-8b", "What is blockchain?");
 * if (result.success) console.log(result.output);
 */
export class ZeroGComputeAdapter extends ZeroGComputeAdapterBase {
  constructor(options: BrowserAdapterOptions = {}) {
    if (options?.caFile !== undefined || options?.ca !== undefined) {
      throw new TypeError("caFile and ca are for Node: a browser trusts the certificates its system trusts");
    }
    const config = resolveConfig(options);
    super(config, fetchConnection(options, config));
  }
}
