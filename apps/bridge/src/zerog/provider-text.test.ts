import { FailureReason } from "@chaoschain/zerog-core";
import { readResponseBody } from "@chaoschain/zerog-verifier";
import { describe, expect, it } from "vitest";
import { providerHttpError } from "./provider-http.js";

const encode = (s: string) => new TextEncoder().encode(s);
const choice = { index: 0, message: { role: "assistant", content: "hi" } };

describe("usage a hostile provider states", () => {
  // The fee is prompt × input price + completion × output price in BigInt: a fraction threw a RangeError
  // after the response was verified and paid, and the job's output was lost; a negative count made a negative fee.
  for (const bad of [1.5, -3, 1e300, "7", null]) {
    it(`prompt_tokens ${JSON.stringify(bad)}: no usage, not a throw`, () => {
      const body = encode(
        JSON.stringify({
          choices: [choice],
          usage: { prompt_tokens: bad, completion_tokens: 2, total_tokens: 3 },
        }),
      );
      expect(readResponseBody(body).usage).toBeUndefined();
    });
  }

  it("whole non-negative counts are kept", () => {
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    expect(readResponseBody(encode(JSON.stringify({ choices: [choice], usage }))).usage).toEqual({
      promptTokens: 1,
      completionTokens: 2,
      totalTokens: 3,
    });
  });
});

describe("a provider's error text in job messages", () => {
  it("control and bidi characters are replaced: nothing a terminal would act on", () => {
    const err = providerHttpError(
      "http://p",
      500,
      encode(JSON.stringify({ error: { message: "\u001b[2J\u001b]0;pwned\u0007 ok \u202eevil\u009b" } })),
    );
    expect(err.reason).toBe(FailureReason.PROVIDER_ERROR);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for them
    expect(err.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(err.message).toContain("ok");
  });

  it("an error message that is not text (a number, an object, JSON null) does not throw", () => {
    for (const body of ['{"error":{"message":5}}', '{"message":{"a":1}}', "null"]) {
      const err = providerHttpError("http://p", 500, encode(body));
      expect(err.reason, body).toBe(FailureReason.PROVIDER_ERROR);
      expect(err.message).toContain("answered 500");
    }
  });
});
