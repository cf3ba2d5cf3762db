import net from "node:net";

/**
 * HTTP/2 written frame by frame (RFC 9113) over a plain TCP socket, to send exactly what an attacker
 * sends: no client library in between that would refuse or reorder it.
 */

export const frameType = {
  data: 0x0,
  headers: 0x1,
  rstStream: 0x3,
  settings: 0x4,
  ping: 0x6,
  goaway: 0x7,
  windowUpdate: 0x8,
  continuation: 0x9,
} as const;

export const flags = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;

export const errorCode = { noError: 0x0, internal: 0x2, cancel: 0x8, enhanceYourCalm: 0xb } as const;

const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export function frame(
  type: number,
  flagBits: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(),
) {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flagBits;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK integer with an `prefixBits`-bit prefix, the first byte's other bits set to `high` (RFC 7541 5.1). */
function hpackInteger(value: number, prefixBits: number, high: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const bytes = [high | max];
  for (value -= max; value >= 128; value >>= 7) bytes.push((value & 0x7f) | 0x80);
  bytes.push(value);
  return Buffer.from(bytes);
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  return Buffer.concat([hpackInteger(bytes.length, 7, 0), bytes]);
}

/** A header block of "literal header field without indexing, new name" fields only (RFC 7541 6.2.2). */
export function headerBlock(headers: Record<string, string>): Buffer {
  return Buffer.concat(
    Object.entries(headers).flatMap(([name, value]) => [
      Buffer.from([0]),
      hpackString(name),
      hpackString(value),
    ]),
  );
}

export const settingsFrame = (settings: Array<[id: number, value: number]> = []) => {
  const payload = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(frameType.settings, 0, 0, payload);
};

export const headersFrame = (streamId: number, block: Uint8Array, flagBits: number) =>
  frame(frameType.headers, flagBits, streamId, block);

export const continuationFrame = (streamId: number, block: Uint8Array, flagBits = 0) =>
  frame(frameType.continuation, flagBits, streamId, block);

export const dataFrame = (streamId: number, data: Uint8Array, flagBits = 0) =>
  frame(frameType.data, flagBits, streamId, data);

export const rstStreamFrame = (streamId: number, code: number = errorCode.cancel) => {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(frameType.rstStream, 0, streamId, payload);
};

export interface ReceivedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A raw HTTP/2 client connection: the preface and an empty SETTINGS are sent once it is open. */
export interface RawH2Connection {
  socket: net.Socket;
  /** Writes `data`, resolving once it is handed to the kernel (false once the socket is gone). */
  write(data: Uint8Array): Promise<boolean>;
  /** The frames the server sent so far. */
  frames(): ReceivedFrame[];
  /** The server's GOAWAY error code, once it sent one. */
  goaway(): number | undefined;
  /** Resolves when the connection is closed (by either side). */
  closed: Promise<void>;
  readonly isClosed: boolean;
}

export async function rawH2Connection(port: number): Promise<RawH2Connection> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let pending = Buffer.alloc(0);
  const received: ReceivedFrame[] = [];
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < 9 + length) break;
      received.push({
        type: pending[3]!,
        flags: pending[4]!,
        streamId: pending.readUInt32BE(5) & 0x7fffffff,
        payload: pending.subarray(9, 9 + length),
      });
      pending = pending.subarray(9 + length);
    }
  });
  let isClosed = false;
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      isClosed = true;
      resolve();
    }),
  );
  await new Promise((resolve) => socket.once("connect", resolve));
  const write = (data: Uint8Array) =>
    new Promise<boolean>((resolve) => {
      if (socket.destroyed || !socket.writable) return resolve(false);
      socket.write(data, (err) => resolve(!err));
    });
  await write(Buffer.concat([preface, settingsFrame()]));
  return {
    socket,
    write,
    frames: () => received,
    goaway() {
      const f = received.find((r) => r.type === frameType.goaway);
      return f ? f.payload.readUInt32BE(4) : undefined;
    },
    closed,
    get isClosed() {
      return isClosed;
    },
  };
}
