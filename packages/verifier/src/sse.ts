/** One dispatched server-sent event. */
export interface SseEvent {
  /** The `event:` field, "message" when absent. */
  type: string;
  /** The `data:` lines joined with "\n". */
  data: string;
}

export interface SseParser {
  /** Feeds the next bytes of the stream (any split: mid-line, mid-CRLF, mid-UTF-8 character). */
  push(chunk: Uint8Array): void;
  /** Ends the stream; an event without its terminating blank line is discarded, as the spec says. */
  end(): void;
}

/**
 * An incremental parser of `text/event-stream` (HTML Living Standard §9.2.6): UTF-8 with a leading BOM
 * dropped, lines ended by CRLF, LF or CR, `:` comments, `field: value` with one leading space removed,
 * `data` lines joined with "\n", an event dispatched at a blank line when it has data. `id` and `retry`
 * are accepted and ignored. The verifier's only SSE parser.
 *
 * @example
 * const events: SseEvent[] = [];
 * const p = createSseParser((e) => events.push(e));
 * p.push(bytes); p.end();
 */
export function createSseParser(onEvent: (event: SseEvent) => void): SseParser {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: false });
  let buffer = "";
  let skipLf = false;
  let data: string[] = [];
  let type = "";
  const line = (l: string) => {
    if (l === "") {
      if (data.length > 0) onEvent({ type: type || "message", data: data.join("\n") });
      data = [];
      type = "";
      return;
    }
    if (l.charCodeAt(0) === 58) return; // ":" comment
    const colon = l.indexOf(":");
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? "" : l.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") type = value;
  };
  const feed = (text: string) => {
    if (text === "") return;
    let i = 0;
    if (skipLf && text.charCodeAt(0) === 10) i = 1;
    skipLf = false;
    const eol = /[\r\n]/g;
    eol.lastIndex = i;
    for (let m = eol.exec(text); m; m = eol.exec(text)) {
      line(buffer + text.slice(i, m.index));
      buffer = "";
      i = m.index + 1;
      if (m[0] === "\r") {
        if (i === text.length) skipLf = true;
        else if (text.charCodeAt(i) === 10) i++;
        eol.lastIndex = i;
      }
    }
    buffer += text.slice(i);
  };
  return {
    push: (chunk) => feed(decoder.decode(chunk, { stream: true })),
    end: () => {
      feed(decoder.decode());
      buffer = "";
      data = [];
    },
  };
}

/** Every event of a complete `text/event-stream` body. */
export function parseSse(body: Uint8Array): SseEvent[] {
  const events: SseEvent[] = [];
  const p = createSseParser((e) => events.push(e));
  p.push(body);
  p.end();
  return events;
}
