/** One server-sent event. */
export interface SseEvent {
  /** The `event:` field; "message" when none. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** The last `id:` seen in the stream. */
  id: string;
}

export interface SseParser {
  /** Feeds the next bytes, split anywhere: inside a line, a CRLF or a UTF-8 sequence. */
  push(chunk: Uint8Array): void;
  /** The stream ended: dispatches an event left without its closing blank line. */
  end(): void;
}

/**
 * Incremental parser of a `text/event-stream` body (the WHATWG HTML event stream format): lines end
 * with CRLF, LF or CR, `:` starts a comment, one space after a field's colon is dropped, and a blank
 * line dispatches the event. Unlike a browser, an event the stream ends without a blank line is still
 * dispatched: a provider cutting the last one short keeps its usage.
 *
 * @example
 * const parser = createSseParser((e) => console.log(e.data));
 * parser.push(new TextEncoder().encode('data: {"a":1}\n\ndata: [DO'));
 * parser.push(new TextEncoder().encode("NE]\n\n")); // logs {"a":1}, then [DONE]
 */
export function createSseParser(onEvent: (event: SseEvent) => void): SseParser {
  const decoder = new TextDecoder();
  /** The pieces of the line being read. */
  let pending: string[] = [];
  /** The last chunk ended with CR: an LF starting the next one belongs to the same line ending. */
  let skipLf = false;
  let data: string[] = [];
  let event = "";
  let id = "";

  const line = (text: string) => {
    if (text === "") {
      if (data.length) onEvent({ event: event || "message", data: data.join("\n"), id });
      data = [];
      event = "";
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
    else if (field === "id" && !value.includes("\0")) id = value;
  };

  // Only new text is scanned: the pieces of a line whose end has not come are joined once, when it comes
  // (scanning or growing one buffer per chunk made a long line cost its length squared).
  const feed = (text: string) => {
    if (text === "") return;
    if (skipLf && text.startsWith("\n")) text = text.slice(1);
    skipLf = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      const piece = text.slice(start, i);
      line(pending.length ? pending.join("") + piece : piece);
      pending = [];
      if (c === 13) {
        if (i + 1 === text.length) skipLf = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    if (start < text.length) pending.push(text.slice(start));
  };

  return {
    push: (chunk) => feed(decoder.decode(chunk, { stream: true })),
    end() {
      feed(decoder.decode());
      if (pending.length) line(pending.join(""));
      pending = [];
      line("");
    },
  };
}

/** Every event of a whole SSE body. */
export function parseSse(body: Uint8Array): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = createSseParser((e) => events.push(e));
  parser.push(body);
  parser.end();
  return events;
}

/** Whether a response body is an event stream rather than one JSON document. */
export function isEventStream(body: Uint8Array): boolean {
  const start = new TextDecoder().decode(body.subarray(0, 64)).trimStart();
  return /^(data|event|id|retry)?:/.test(start);
}
