import { execFile } from "node:child_process";
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  ServerReflection,
  type ServerReflectionResponse,
  ServerReflectionV1Alpha,
} from "@chaoschain/zerog-core";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpcTransport } from "./clients.js";
import { startTestBridge, type TestBridge } from "./harness.js";

const run = promisify(execFile);
const buf = fileURLToPath(new URL("../../../node_modules/.bin/buf", import.meta.url));
const apiKey = "zk_reflection_0123456789abcdef";

let t: TestBridge;
beforeAll(async () => {
  // A stream waiting for its next request is ended after the request timeout (60 s by default).
  t = await startTestBridge({ bridge: { apiKey, requestTimeoutSeconds: 1 } });
});
afterAll(async () => {
  await t?.close();
});

/** `buf curl` against the bridge over h2c gRPC, with the API key on the call and on reflection. */
function bufCurl(args: string[]) {
  const auth = `authorization: Bearer ${apiKey}`;
  return run(buf, [
    "curl",
    "--protocol",
    "grpc",
    "--http2-prior-knowledge",
    "-H",
    auth,
    "--reflect-header",
    auth,
    ...args,
  ]);
}

describe("gRPC server reflection (no .proto files)", () => {
  it.each(["grpc-v1", "grpc-v1alpha"])("buf curl lists services and methods (%s)", async (protocol) => {
    const services = await bufCurl(["--reflect-protocol", protocol, "--list-services", t.baseUrl]);
    expect(services.stdout.trim().split("\n").sort()).toEqual([
      "chaoschain.zerog.v1.ComputeService",
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
    const methods = await bufCurl(["--reflect-protocol", protocol, "--list-methods", t.baseUrl]);
    for (const m of ["Submit", "GetJob", "GetResult", "WatchJob", "CancelJob", "ListJobs", "ListServices"])
      expect(methods.stdout).toContain(`chaoschain.zerog.v1.ComputeService/${m}\n`);
  });

  it("buf curl calls a method with its schema from reflection (messages, enums, imports)", async () => {
    const { stdout } = await bufCurl([
      "-d",
      '{"model":"llama-3-8b"}',
      `${t.baseUrl}/chaoschain.zerog.v1.ComputeService/ListServices`,
    ]);
    const services = (JSON.parse(stdout) as { services: Array<{ model: string; verifiability: string }> })
      .services;
    expect(services.length).toBeGreaterThan(0);
    expect(services.every((s) => s.model === "llama-3-8b")).toBe(true);
  });

  it("a stream that sends no request is ended after the request timeout, never held open for ever", async () => {
    const session = http2.connect(t.baseUrl);
    session.on("error", () => {});
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "content-type": "application/grpc",
        te: "trailers",
        authorization: `Bearer ${apiKey}`,
      });
      stream.on("error", () => {});
      stream.write(Buffer.alloc(0));
      const status = await new Promise<unknown>((resolve) => {
        const waited = setTimeout(() => resolve("still open after 10 s"), 10_000);
        stream.on("trailers", (trailers) => {
          clearTimeout(waited);
          resolve(trailers["grpc-status"]);
        });
        stream.resume();
      });
      expect(status).toBe(String(Code.DeadlineExceeded));
    } finally {
      session.destroy();
    }
  });

  it("needs the API key like every service but health", async () => {
    const err = await run(buf, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "--list-services",
      t.baseUrl,
    ]).catch((e: { stderr: string }) => e);
    expect((err as { stderr: string }).stderr).toMatch(/not authenticated|unauthenticated/i);
  });

  it.each([
    ["v1", ServerReflection],
    ["v1alpha", ServerReflectionV1Alpha],
  ] as const)("describes a symbol with its file and imports, once per stream (%s)", async (_, service) => {
    const client = createClient(service, grpcTransport(t.baseUrl, [], apiKey));
    const requests = [
      {
        messageRequest: { case: "fileContainingSymbol", value: "chaoschain.zerog.v1.ComputeService.Submit" },
      },
      { messageRequest: { case: "fileContainingSymbol", value: "chaoschain.zerog.v1.JobState" } },
      { messageRequest: { case: "fileByFilename", value: "grpc/health/v1/health.proto" } },
      { messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } },
      {
        messageRequest: {
          case: "fileContainingExtension",
          value: { containingType: "x.Y", extensionNumber: 5 },
        },
      },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "chaoschain.zerog.v1.Job" } },
    ];
    const answers: ServerReflectionResponse["messageResponse"][] = [];
    // v1alpha answers are the same shape under other type names.
    for await (const res of client.serverReflectionInfo(
      (async function* () {
        for (const r of requests) yield create(service.method.serverReflectionInfo.input, r as never);
      })(),
    ))
      answers.push(res.messageResponse as ServerReflectionResponse["messageResponse"]);
    const files = (i: number) => {
      const a = answers[i]!;
      if (a.case !== "fileDescriptorResponse") throw new Error(`answer ${i} is ${a.case}`);
      return a.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    };
    const first = files(0);
    expect(first[0]!.name).toBe("chaoschain/zerog/v1/compute.proto");
    expect(first[0]!.service[0]!.method.map((m) => m.name)).toContain("Submit");
    // Its imports come along, on first use only.
    expect(first.map((f) => f.name)).toContain("google/protobuf/timestamp.proto");
    expect(files(1).map((f) => f.name)).toEqual(["chaoschain/zerog/v1/compute.proto"]);
    expect(files(2)[0]!.name).toBe("grpc/health/v1/health.proto");
    expect(answers[3]).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
    expect(answers[4]).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
    expect(answers[5]).toMatchObject({ case: "allExtensionNumbersResponse", value: { extensionNumber: [] } });
  });
});
