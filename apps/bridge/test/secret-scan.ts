import { createHash, randomBytes } from "node:crypto";

/** A secret to look for, with how its leaks are named in failures. */
export interface Secret {
  name: string;
  value: string;
}

/** Something an operator or a client could see: a log, an answer, a database dump. */
export interface Seen {
  where: string;
  bytes: Buffer;
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `length` random letters and digits: a secret no text could contain by chance. */
export function randomText(length: number): string {
  return Array.from(randomBytes(length), (b) => base62[b % 62]).join("");
}

/**
 * Every spelling of `secret` that would give it (or enough of it) away: each run of 12 hex digits of a
 * hex key in lower and upper case (8 characters of any other secret: V8 quotes about 10 characters of
 * text it cannot parse), the key's raw bytes, base64 and base64url, URL encoding, and its SHA-256
 * (what an API keys file may hold instead of the key).
 */
export function spellings(secret: string): Buffer[] {
  const hex = /^(0x)?([0-9a-fA-F]{2})+$/.test(secret) ? secret.replace(/^0x/, "") : undefined;
  const core = hex ?? secret;
  const size = Math.min(core.length, hex ? 12 : 8);
  const out = new Set<string>();
  for (let i = 0; i + size <= core.length; i++) {
    const run = core.slice(i, i + size);
    out.add(run);
    if (hex) out.add(run.toLowerCase()).add(run.toUpperCase());
  }
  const bytes = hex ? Buffer.from(hex, "hex") : Buffer.from(secret);
  out.add(bytes.toString("base64")).add(bytes.toString("base64url")).add(encodeURIComponent(secret));
  out.add(createHash("sha256").update(secret).digest("hex"));
  return [...[...out].map((s) => Buffer.from(s)), ...(hex ? [bytes] : [])];
}

/** Each place a spelling of a secret appears in what was seen: "<secret> in <where>: …context…". */
export function findLeaks(seen: readonly Seen[], secrets: readonly Secret[]): string[] {
  const leaks: string[] = [];
  for (const secret of secrets) {
    const forms = spellings(secret.value);
    for (const { where, bytes } of seen) {
      for (const form of forms) {
        const at = bytes.indexOf(form);
        if (at < 0) continue;
        const context = bytes.subarray(Math.max(0, at - 60), at + form.length + 20).toString("utf8");
        leaks.push(`${secret.name} in ${where}: …${context}…`);
        break;
      }
    }
  }
  return leaks;
}
