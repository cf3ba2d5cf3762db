/**
 * The simulated LLM: a deterministic, readable echo of the last user message. Everything around it
 * (auth, billing, signing, streaming framing) is the real provider protocol; only the text is fake.
 */

/** An OpenAI chat message as received (content may be a string or an array of parts). */
export type ChatMessage = { role?: unknown; content?: unknown };

export type MockCompletion = {
  /** The completion split into tokens; joined they give the full text. */
  tokens: string[];
  text: string;
  finishReason: "stop" | "length";
  promptTokens: number;
  completionTokens: number;
};

const TOKEN_RE = /\s*[\p{L}\p{N}_]+|\s*[^\s\p{L}\p{N}_]/gu;

/** Splits text into word/punctuation tokens, each carrying its leading whitespace. */
export function tokenize(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

/** Text of a message's content: a string, or the concatenated `text` parts of a content array. */
export function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) =>
        part && typeof part === "object" && typeof (part as { text?: unknown }).text === "string"
          ? (part as { text: string }).text
          : "",
      )
      .join("");
  }
  return "";
}

/** Prompt token count: the tokens of every message plus 3 per message for role framing. */
export function countPromptTokens(messages: readonly ChatMessage[]): number {
  let n = 0;
  for (const m of messages) n += tokenize(messageText(m.content)).length + 3;
  return n;
}

/**
 * Produces the simulated answer: `"<model> (0G devnet) heard: <last user message>"`, cut to
 * `maxTokens` tokens (finish_reason "length") when given.
 */
export function generateCompletion(
  model: string,
  messages: readonly ChatMessage[],
  maxTokens?: number | undefined,
): MockCompletion {
  const lastUser = [...messages].reverse().find((m) => m.role === "user");
  const heard = lastUser ? messageText(lastUser.content).trim() : "";
  const full = tokenize(`${model} (0G devnet) heard: ${heard.length > 0 ? heard : "nothing"}`);
  const limit = maxTokens !== undefined && maxTokens >= 0 ? Math.floor(maxTokens) : full.length;
  const tokens = full.slice(0, limit);
  return {
    tokens,
    text: tokens.join(""),
    finishReason: tokens.length < full.length ? "length" : "stop",
    promptTokens: countPromptTokens(messages),
    completionTokens: tokens.length,
  };
}
