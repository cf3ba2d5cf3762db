import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, formatLogLine } from "./logger.js";

function sink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => lines.join("") };
}

describe("logs", () => {
  it("are JSON when the output is not a terminal, secrets redacted", () => {
    const out = sink();
    const log = createLogger({ destination: out.stream, isTty: false });
    log.info({ jobId: "job_1", apiKey: "zk_secret_0123456789" }, "job started");
    const entry = JSON.parse(out.text());
    expect(entry).toMatchObject({ msg: "job started", jobId: "job_1", level: 30, apiKey: "[redacted]" });
    expect(out.text()).not.toContain("zk_secret");
  });

  it("are readable lines on a terminal, with no JSON, secrets redacted", () => {
    const out = sink();
    const log = createLogger({ destination: out.stream, isTty: true, color: false });
    log.info(
      { host: "127.0.0.1", port: 50051, authorization: "Bearer zk_secret_0123456789" },
      "bridge listening",
    );
    log.error({ err: new Error("disk full"), jobId: "job_2" }, "job failed");
    const text = out.text();
    expect(text).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}bridge listening {2}host=127\.0\.0\.1 port=50051 authorization=\[redacted\]\n/,
    );
    expect(text).toMatch(
      /ERROR job failed {2}err="Error: disk full" jobId=job_2\n {4}Error: disk full\n\s+at /,
    );
    expect(text).not.toContain("zk_secret");
    expect(text).not.toMatch(/^\{/m);
  });

  it("follow --log-format over the terminal decision", () => {
    const json = sink();
    createLogger({ destination: json.stream, isTty: true, format: "json" }).info("x");
    expect(JSON.parse(json.text()).msg).toBe("x");
    const pretty = sink();
    createLogger({ destination: pretty.stream, isTty: false, format: "pretty" }).warn({ n: 1 }, "y");
    expect(pretty.text()).toMatch(/ WARN {2}y {2}n=1\n$/);
    // No colour codes when the output is not a terminal; on one, the level is coloured.
    expect(pretty.text()).not.toContain("\x1b[");
    const coloured = sink();
    createLogger({ destination: coloured.stream, isTty: true, color: true }).error("z");
    expect(coloured.text()).toContain("\x1b[31mERROR\x1b[0m z");
  });

  it("escape control characters a provider or caller chose (terminal escapes, CR, C1), wherever they appear", () => {
    const out = sink();
    const log = createLogger({ destination: out.stream, isTty: true, color: false });
    const evil = "\x1b]0;owned\x07\x1b[2J\x9b31m\rforged";
    log.warn({ err: evil, provider: evil }, `provider said ${evil}`);
    log.error({ err: new Error(evil) }, "job failed");
    const text = out.text();
    expect(text.replaceAll("\n", "")).not.toMatch(/\p{Cc}/u);
    expect(text).toContain("\\u001b[2J");
    expect(text).toContain("forged");
  });

  it("passes a line that is not JSON through", () => {
    expect(formatLogLine("plain text")).toBe("plain text\n");
  });
});
