import { type DescFile, type DescMessage, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionV1Alpha,
} from "@chaoschain/zerog-core";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { quoteBounded } from "./wire/violations.js";

/** A response's `message_response`, as init fields (v1 and v1alpha alike). */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "listServicesResponse"; value: { service: Array<{ name: string }> } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** Every file the services are declared in, with their imports, by name; and every symbol's file. */
function index(services: readonly DescService[]) {
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const addMessage = (m: DescMessage) => {
    symbols.set(m.typeName, m.file);
    for (const nested of m.nestedMessages) addMessage(nested);
    for (const e of m.nestedEnums) symbols.set(e.typeName, m.file);
    for (const x of m.nestedExtensions) symbols.set(x.typeName, m.file);
  };
  const addFile = (file: DescFile) => {
    // Keyed by the .proto path (DescFile.name has no ".proto").
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const m of file.messages) addMessage(m);
    for (const e of file.enums) symbols.set(e.typeName, file);
    for (const x of file.extensions) symbols.set(x.typeName, file);
    for (const s of file.services) {
      symbols.set(s.typeName, file);
      for (const method of s.methods) symbols.set(`${s.typeName}.${method.name}`, file);
    }
    for (const dep of file.dependencies) addFile(dep);
  };
  for (const s of services) addFile(s.file);
  return { files, symbols };
}

/**
 * gRPC server reflection (`grpc.reflection.v1` and the older `v1alpha`), so that grpcurl and
 * `buf curl` list and describe the bridge's services without the .proto files: the services, and
 * each file with the imports not yet sent on the stream, as serialized FileDescriptorProtos.
 */
export function createReflectionService(
  services: readonly DescService[],
  { requestTimeoutMs }: { requestTimeoutMs: number },
) {
  const all = [...services, ServerReflection, ServerReflectionV1Alpha];
  const { files, symbols } = index(all);
  const serviceNames = all.map((s) => ({ name: s.typeName }));
  // Each file serialized once: a stream may ask again and again.
  const bytes = new Map<DescFile, Uint8Array>();
  const serialized = (f: DescFile) => {
    let b = bytes.get(f);
    if (!b) {
      b = toBinary(FileDescriptorProtoSchema, f.proto);
      bytes.set(f, b);
    }
    return b;
  };

  const fileAnswer = (file: DescFile | undefined, what: string, sent: Set<string>): Answer => {
    if (!file) {
      return {
        case: "errorResponse",
        value: { errorCode: Code.NotFound, errorMessage: `${what} not found` },
      };
    }
    const out: Uint8Array[] = [];
    const add = (f: DescFile) => {
      if (sent.has(f.name)) return;
      sent.add(f.name);
      out.push(serialized(f));
      for (const dep of f.dependencies) add(dep);
    };
    // The file asked for is sent even if sent before: the client asked again.
    sent.delete(file.name);
    add(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
  };

  const answer = (req: ServerReflectionRequest, sent: Set<string>): Answer => {
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: serviceNames } };
      case "fileByFilename":
        return fileAnswer(files.get(r.value), `file ${quoteBounded(r.value)}`, sent);
      case "fileContainingSymbol":
        return fileAnswer(symbols.get(r.value.replace(/^\./, "")), `symbol ${quoteBounded(r.value)}`, sent);
      case "fileContainingExtension":
        return {
          case: "errorResponse",
          value: {
            errorCode: Code.NotFound,
            errorMessage: `no extension ${r.value.extensionNumber} of ${quoteBounded(r.value.containingType)}`,
          },
        };
      case "allExtensionNumbersOfType":
        return symbols.has(r.value)
          ? { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: [] } }
          : {
              case: "errorResponse",
              value: { errorCode: Code.NotFound, errorMessage: `type ${quoteBounded(r.value)} not found` },
            };
      default:
        return {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "empty request" },
        };
    }
  };

  const impl = {
    async *serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
      const sent = new Set<string>();
      for await (const req of within(requests, requestTimeoutMs)) {
        const r = req.messageRequest;
        yield {
          validHost: req.host,
          // As plain fields: v1alpha's request is another message type with the same fields.
          originalRequest: {
            host: req.host,
            messageRequest:
              r.case === "fileContainingExtension"
                ? {
                    case: r.case,
                    value: {
                      containingType: r.value.containingType,
                      extensionNumber: r.value.extensionNumber,
                    },
                  }
                : r,
          },
          messageResponse: answer(req, sent),
        };
      }
    },
  };
  return {
    register(router: ConnectRouter) {
      router.service(ServerReflection, impl as never);
      router.service(ServerReflectionV1Alpha, impl as never);
    },
  };
}

/**
 * The requests of a stream, each within `ms` of the previous answer: a client that opens a stream and
 * sends nothing would otherwise hold it, and its connection, for ever (no connection timer runs while
 * a call is in progress). Ends with DEADLINE_EXCEEDED.
 */
async function* within<T>(requests: AsyncIterable<T>, ms: number): AsyncGenerator<T> {
  const it = requests[Symbol.asyncIterator]();
  for (;;) {
    const next = it.next();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), ms);
    });
    const outcome = await Promise.race([next, expired]).finally(() => clearTimeout(timer));
    if (outcome === "expired") {
      next.catch(() => {});
      throw new ConnectError(
        `no reflection request within ${ms / 1000} s: the stream is ended (the bridge's --request-timeout)`,
        Code.DeadlineExceeded,
      );
    }
    if (outcome.done) return;
    yield outcome.value;
  }
}
