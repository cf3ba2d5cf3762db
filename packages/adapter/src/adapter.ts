import { readFileSync } from "node:fs";
import type { ZeroGError } from "@chaoschain/zerog-core";
import type { ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type AdapterConnection, ZeroGComputeAdapterBase } from "./adapter-base.js";
import { bearer } from "./bearer.js";
import { type ResolvedAdapterConfig, resolveConfig, type ZeroGComputeAdapterOptions } from "./config.js";
import { type CallContext, isSessionFailure, unexplained } from "./errors.js";
import { describeFinding, probe } from "./probe.js";
import { retryRefusedStreams } from "./refused-stream.js";
import { RenewableSessions } from "./renewable-sessions.js";

/** Whether `url` names this host (localhost, 127.0.0.0/8, ::1). */
function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The PEM text of the configured CA, read now: an unreadable file is refused at construction. */
function trustedCa(ca: ResolvedAdapterConfig["ca"]): string | Uint8Array | undefined {
  if (!ca || "pem" in ca) return ca?.pem;
  try {
    return readFileSync(ca.file);
  } catch (err) {
    throw new TypeError(
      `caFile / ZEROG_CA_FILE: cannot read ${ca.file} (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
}

/**
 * gRPC over one HTTP/2 connection, which is replaced after a failure that breaks it; a call whose
 * stream the bridge refused unprocessed (REFUSED_STREAM) is sent once more on a fresh connection.
 */
function nodeConnection(config: ResolvedAdapterConfig): AdapterConnection {
  const { baseUrl, apiKey } = config;
  const ca = trustedCa(config.ca);
  const sessions = new RenewableSessions(baseUrl, {
    idleTimeoutMs: 15_000,
    // A long job may send nothing for minutes; a PING tells a quiet bridge from a dead connection.
    pingIntervalMs: 30_000,
    pingTimeoutMs: 15_000,
    ...(ca === undefined ? {} : { session: { ca: typeof ca === "string" ? ca : Buffer.from(ca) } }),
  });
  let findings: { at: number; text: Promise<string | undefined> } | undefined;
  const transport = createGrpcTransport({
    baseUrl,
    sessionManager: sessions,
    interceptors: [bearer(apiKey)],
    readMaxBytes: config.maxResponseBytes,
    // A bridge on this host (the sidecar case) gains nothing from gzip, which costs both sides CPU.
    ...(isLoopback(baseUrl) ? { acceptCompression: [] } : {}),
  });
  return {
    transport: retryRefusedStreams(transport, () => sessions.renew()),
    async explain(err: ConnectError, ctx: CallContext): Promise<ZeroGError> {
      // A broken session (ENHANCE_YOUR_CALM after a too-large request, a protocol error, a reset)
      // must not be reused by the next call: drop it, the next call connects afresh.
      if (isSessionFailure(err)) sessions.abort();
      if (/ENHANCE_YOUR_CALM/.test(err.rawMessage)) return unexplained(err, ctx);
      // One look per failure burst: concurrent calls failing together share it.
      if (!findings || Date.now() - findings.at > 5_000) {
        findings = {
          at: Date.now(),
          text: probe(baseUrl).then(
            (f) => describeFinding(f, baseUrl),
            () => undefined,
          ),
        };
      }
      return unexplained(err, ctx, await findings.text);
    },
    close() {
      sessions.abort();
    },
  };
}

/**
 * Client of the ChaosChain 0G compute bridge: submit AI tasks, follow them, and get each output
 * with a proof that can be verified offline. It is also a `@chaoschain/sdk` compute provider:
 * `new ChaosChainSDK({ …, computeProvider: new ZeroGComputeAdapter() })`.
 *
 * @example
 * const zerog = new ZeroGComputeAdapter({ grpcUrl: "localhost:50051" });
 * const jobId = await zerog.submit({
 *   task_type: "inference",
 *   model: "llama-3-8b",
 *   inputs: { prompt: "What is blockchain?" },
 *   verification: "tee-ml",
 * });
 * const result = await zerog.result(jobId, { wait: true, timeoutS: 600 });
 * if (result.success) console.log(result.output, result.proof.method);
 * zerog.close();
 */
export class ZeroGComputeAdapter extends ZeroGComputeAdapterBase {
  constructor(options: ZeroGComputeAdapterOptions = {}) {
    const config = resolveConfig(options, process.env, (path) => readFileSync(path, "utf8"));
    super(config, nodeConnection(config));
  }
}
