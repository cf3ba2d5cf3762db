import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Health, HealthCheckResponse_ServingStatus } from "@chaoschain/zerog-core";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { notServingHeader } from "./health.js";

export const healthUsage = `Usage: zerog-bridge health [options]

Asks a bridge's grpc.health.v1 Check (no API key needed): exit 0 when SERVING, 1 when not (with why),
3 when no bridge answers, 2 on bad usage. For container health checks.

Options:
  --url <url>         the bridge; default http://127.0.0.1:<ZEROG_BRIDGE_PORT or 50051>, https:// when
                      ZEROG_TLS_CERT is set [ZEROG_HEALTH_URL]
  --ca-file <file>    CA certificate(s) to trust for https:// [ZEROG_CA_FILE]
  --insecure          do not verify the bridge's certificate (a check over loopback, whose name the
                      certificate does not carry)
  --timeout <s>       default 5`;

export interface HealthCheckOutcome {
  code: 0 | 1 | 2 | 3;
  line: string;
}

/** `zerog-bridge health`: one Check, its outcome as an exit code and a line. */
export async function healthCheck(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<HealthCheckOutcome> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: "string" },
        "ca-file": { type: "string" },
        insecure: { type: "boolean" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    return { code: 2, line: `${(err as Error).message}\n\n${healthUsage}` };
  }
  if (values.help) return { code: 0, line: healthUsage };
  const scheme = env.ZEROG_TLS_CERT ? "https" : "http";
  const url =
    (values.url as string | undefined) ??
    env.ZEROG_HEALTH_URL ??
    `${scheme}://127.0.0.1:${env.ZEROG_BRIDGE_PORT || 50051}`;
  const timeoutS = Number(values.timeout ?? 5);
  if (!/^https?:\/\/[^/]+\/?$/.test(url) || !(timeoutS > 0))
    return {
      code: 2,
      line: `--url must be http(s)://host:port and --timeout a number of seconds\n\n${healthUsage}`,
    };
  const caFile = (values["ca-file"] as string | undefined) ?? env.ZEROG_CA_FILE;
  let ca: Buffer | undefined;
  try {
    ca = caFile ? readFileSync(caFile) : undefined;
  } catch (err) {
    return { code: 2, line: `cannot read --ca-file ${caFile} (${(err as NodeJS.ErrnoException).code})` };
  }
  const sessions = new Http2SessionManager(
    url,
    {},
    {
      ...(ca ? { ca } : {}),
      ...(values.insecure ? { rejectUnauthorized: false } : {}),
    },
  );
  try {
    const client = createClient(Health, createGrpcTransport({ baseUrl: url, sessionManager: sessions }));
    let reason: string | null = null;
    const res = await client.check(
      { service: "" },
      { timeoutMs: timeoutS * 1000, onHeader: (h) => (reason = h.get(notServingHeader)) },
    );
    if (res.status === HealthCheckResponse_ServingStatus.SERVING) return { code: 0, line: "SERVING" };
    const name = HealthCheckResponse_ServingStatus[res.status] ?? String(res.status);
    return { code: 1, line: `${name}${reason ? `: ${reason}` : ""}` };
  } catch (err) {
    return { code: 3, line: `no bridge answers at ${url}: ${ConnectError.from(err).rawMessage}` };
  } finally {
    sessions.abort();
  }
}
