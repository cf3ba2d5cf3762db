import { execFile } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ZeroGComputeAdapter } from "@chaoschain/zerog-adapter";
import type { ZeroGError } from "@chaoschain/zerog-core";
import { type Devnet, startDevnet } from "@chaoschain/zerog-devnet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoTask, waitFor } from "./harness.js";
import { type BridgeProcess, spawnBridge } from "./process.js";
import { createTestCa, type TestCa } from "./test-ca.js";

const run = promisify(execFile);
const bin = fileURLToPath(new URL("../bin/zerog-bridge.js", import.meta.url));

let devnet: Devnet;
let ca: TestCa;
let caFile: string;
let bridge: BridgeProcess;
let served: { certFile: string; keyFile: string };
const adapters: ZeroGComputeAdapter[] = [];

beforeAll(async () => {
  devnet = await startDevnet();
  ca = await createTestCa();
  caFile = join(tmpdir(), `zerog-test-ca-${process.pid}.pem`);
  writeFileSync(caFile, ca.certPem);
  const issued = await ca.issue();
  // The bridge serves copies, so that a test can replace them (rotation) without touching `issued`.
  served = { certFile: `${issued.certFile}.served`, keyFile: `${issued.keyFile}.served` };
  copyFileSync(issued.certFile, served.certFile);
  copyFileSync(issued.keyFile, served.keyFile);
  bridge = await spawnBridge(devnet, {
    args: [`--tls-cert=${served.certFile}`, `--tls-key=${served.keyFile}`],
    tls: { ca: ca.certPem },
  });
});
afterAll(async () => {
  for (const a of adapters) a.close();
  await bridge?.dispose();
  await devnet?.close();
});

function adapter(options: ConstructorParameters<typeof ZeroGComputeAdapter>[0]) {
  const a = new ZeroGComputeAdapter({ timeoutSeconds: 60, verify: { policy: devnet.policy }, ...options });
  adapters.push(a);
  return a;
}

/** The certificate a fresh TLS connection to the bridge is shown. */
function servedCertificate(port: number): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      port,
      host: "127.0.0.1",
      servername: "localhost",
      rejectUnauthorized: false,
    });
    socket.once("secureConnect", () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

describe("TLS listener (a CA made by the test, real TLS over 127.0.0.1)", () => {
  it("runs a job through the adapter over grpcs:// with the CA as caFile", async () => {
    const zerog = adapter({ grpcUrl: `grpcs://localhost:${bridge.port}`, caFile });
    const jobId = await zerog.submit(demoTask);
    const result = await zerog.result(jobId, { wait: true, timeoutS: 60 });
    expect(result.success).toBe(true);
    expect(result.output).not.toBe("");
    // https:// and the CA through ZEROG_CA_FILE work the same.
    process.env.ZEROG_CA_FILE = caFile;
    try {
      expect((await adapter({ grpcUrl: `https://localhost:${bridge.port}` }).status(jobId)).status).toBe(
        "completed",
      );
    } finally {
      delete process.env.ZEROG_CA_FILE;
    }
  });

  it("negotiates h2 and http/1.1 by ALPN on the one port (curl: Connect JSON over both)", async () => {
    const health = "/grpc.health.v1.Health/Check";
    for (const version of ["--http1.1", "--http2"]) {
      const { stdout } = await run("curl", [
        "-sS",
        version,
        "--cacert",
        caFile,
        "-w",
        "\\n%{http_version}",
        "-H",
        "content-type: application/json",
        "-d",
        "{}",
        `https://localhost:${bridge.port}${health}`,
      ]);
      const [body, httpVersion] = stdout.split("\n");
      expect(JSON.parse(body!)).toEqual({ status: "SERVING" });
      expect(httpVersion).toBe(version === "--http2" ? "2" : "1.1");
    }
  });

  it("refuses what is not TLS, and a client that does not trust the CA; the adapter says which", async () => {
    const plain = await adapter({ grpcUrl: `127.0.0.1:${bridge.port}`, timeoutSeconds: 5 })
      .status("job_x")
      .catch((e: ZeroGError) => e);
    expect((plain as ZeroGError).shortMessage).toContain(`speaks TLS: use https://127.0.0.1:${bridge.port}`);
    const untrusted = await adapter({ grpcUrl: `https://localhost:${bridge.port}`, timeoutSeconds: 5 })
      .status("job_x")
      .catch((e: ZeroGError) => e);
    expect((untrusted as ZeroGError).shortMessage).toMatch(/TLS certificate .* is not trusted/);
    // The bridge still serves.
    expect((await bridge.health().check({})).status).toBe(1);
  });

  it("zerog-bridge health checks it over TLS", async () => {
    const { stdout } = await run(process.execPath, [
      bin,
      "health",
      `--url=https://localhost:${bridge.port}`,
      `--ca-file=${caFile}`,
    ]);
    expect(stdout).toBe("SERVING\n");
    const failed = await run(process.execPath, [
      bin,
      "health",
      `--url=https://localhost:${bridge.port}`,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(3);
  });

  it("reloads its certificate on SIGHUP, and keeps the current one when the new files do not load", async () => {
    const before = await servedCertificate(bridge.port);
    // Another CA's certificate (as after a CA rotation).
    const other = await createTestCa("zerog test CA 2");
    const next = await other.issue();
    // A broken pair first: the current certificate stays.
    writeFileSync(served.certFile, "not a certificate");
    bridge.child.kill("SIGHUP");
    await waitFor(() => /TLS certificate not reloaded/.test(bridge.stderr()), { what: "the reload error" });
    expect((await servedCertificate(bridge.port)).fingerprint256).toBe(before.fingerprint256);
    copyFileSync(next.certFile, served.certFile);
    copyFileSync(next.keyFile, served.keyFile);
    bridge.child.kill("SIGHUP");
    await waitFor(
      async () => (await servedCertificate(bridge.port)).fingerprint256 !== before.fingerprint256,
      {
        what: "the new certificate",
      },
    );
    expect((await servedCertificate(bridge.port)).issuer.CN).toBe("zerog test CA 2");
    const otherCa = join(tmpdir(), `zerog-test-ca2-${process.pid}.pem`);
    writeFileSync(otherCa, other.certPem);
    expect(
      (await adapter({ grpcUrl: `https://localhost:${bridge.port}`, caFile: otherCa }).listJobs()).jobs
        .length,
    ).toBe(1);
  });
});
