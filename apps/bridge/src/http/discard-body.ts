import type http from "node:http";

/** What the rest of a refused HTTP/1.1 request's body may cost before its connection closes. */
export interface DiscardLimits {
  /** Body bytes read and discarded at most (fewer when the request declares fewer). */
  maxBytes: number;
  /** How long the connection is kept after the answer at most, ms. */
  timeoutMs: number;
}

export const defaultDiscardLimits: DiscardLimits = { maxBytes: 64 * 1024, timeoutMs: 2000 };

/**
 * Ends the answer `res` (written with `Connection: close` and a Content-Length, so complete as sent)
 * to a request whose body the bridge did not read. Closing at once would reset the connection under a
 * client still sending its body, which may then see EPIPE or ECONNRESET instead of the answer (the
 * "TCP reset problem", RFC 9112 §9.6). So, as nginx's lingering close and Go's net/http do, the rest of
 * the body is read and thrown away, at most `maxBytes` (or the declared Content-Length if smaller) for
 * at most `timeoutMs`, then the connection closes. Past `maxBytes` nothing more is read, and the
 * connection is held, unread, until `timeoutMs`: time for the client to read the answer.
 * `bodyComing: false` (a client waiting for `100 Continue`, never sent) closes at once.
 */
export function endDiscardingBody(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  bodyComing: boolean,
  limits: DiscardLimits = defaultDiscardLimits,
): void {
  res.flushHeaders();
  if (!bodyComing || req.complete || req.destroyed) return void res.end();
  const declared = Number(req.headers["content-length"] ?? Number.NaN);
  const maxBytes = Number.isInteger(declared) ? Math.min(declared, limits.maxBytes) : limits.maxBytes;
  let discarded = 0;
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded <= maxBytes) return;
    req.off("data", onData);
    req.pause();
  };
  const finish = () => {
    clearTimeout(timer);
    req.off("data", onData);
    req.off("end", finish);
    res.off("close", finish);
    res.end();
  };
  const timer = setTimeout(finish, limits.timeoutMs);
  req.on("data", onData);
  req.once("end", finish);
  res.once("close", finish);
  req.resume();
}
