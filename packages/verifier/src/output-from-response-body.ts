import type { InvalidInputError } from "./errors/input.js";
import { readResponseBody } from "./read-response-body.js";

export type OutputFromResponseBodyErrorType = InvalidInputError;

/**
 * The assistant text of an OpenAI chat-completion response body (choice 0; see {@link readResponseBody}).
 * The bridge uses it too, so the verifier checks a result's `output` against the same reading.
 *
 * @throws {InvalidInputError} (field "response_body") when the body is neither form.
 * @example
 * outputFromResponseBody(new TextEncoder().encode('{"choices":[{"message":{"content":"hi"}}]}')) // "hi"
 */
export function outputFromResponseBody(responseBody: Uint8Array): string {
  return readResponseBody(responseBody).output;
}
