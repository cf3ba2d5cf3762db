/** A JSON text that is not an object with distinct member names. */
export class JsonMembersError extends Error {
  override name = "JsonMembersError";
}

const WS = new Set([" ", "\t", "\n", "\r"]);

/** Index just past the string literal that opens at `i` (text already known to be valid JSON). */
function endOfString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === "\\") j++;
    else if (text[j] === '"') return j + 1;
  }
  throw new JsonMembersError("unterminated string");
}

/** Index just past the JSON value that starts at `i` (text already known to be valid JSON). */
function endOfValue(text: string, i: number): number {
  const c = text[i];
  if (c === '"') return endOfString(text, i);
  if (c !== "{" && c !== "[") {
    let j = i;
    while (j < text.length && !WS.has(text[j] as string) && !",}]".includes(text[j] as string)) j++;
    return j;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const d = text[j];
    if (d === '"') j = endOfString(text, j) - 1;
    else if (d === "{" || d === "[") depth++;
    else if (d === "}" || d === "]") {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  throw new JsonMembersError("unterminated value");
}

function skipWs(text: string, i: number): number {
  while (WS.has(text[i] as string)) i++;
  return i;
}

/**
 * The members of a JSON object text, each value as its exact source text (what Intel signs in a PCS answer
 * is the `tcbInfo` / `enclaveIdentity` value byte for byte, not a re-serialisation). Throws
 * {@link JsonMembersError} for invalid JSON, anything but an object, or a repeated member name (two
 * `tcbInfo` members would let two readers pick different ones). Linear in the text's length.
 */
export function jsonMembers(text: string): Map<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new JsonMembersError(`not JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new JsonMembersError("not a JSON object");
  const out = new Map<string, string>();
  let i = skipWs(text, 0) + 1; // past "{"
  for (;;) {
    i = skipWs(text, i);
    if (text[i] === "}") return out;
    if (text[i] === ",") i = skipWs(text, i + 1);
    const keyEnd = endOfString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    if (out.has(key)) throw new JsonMembersError(`member "${key}" appears twice`);
    i = skipWs(text, skipWs(text, keyEnd) + 1); // past ":"
    const end = endOfValue(text, i);
    out.set(key, text.slice(i, end));
    i = end;
  }
}
