import type { FieldViolation } from "@chaoschain/zerog-core";

/** Nesting allowed in a request message, JSON or binary (ours need 6; Struct extras get the rest). */
export const maxDepth = 32;
/** Violations reported per request: enough to fix a request, bounded for a hostile one. */
const maxViolations = 20;
const maxLabel = 64;

/** A name or value from the request as it may appear in an error: printable and at most 64 characters. */
export function quoteBounded(text: string): string {
  const cut = text.length > maxLabel ? `${text.slice(0, maxLabel)}…` : text;
  return JSON.stringify(cut);
}

/** `path.name`, with `name` made printable and bounded. */
export function fieldPath(path: string, name: string): string {
  const label = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name) ? name : quoteBounded(name);
  return path ? `${path}.${label}` : label;
}

/** Collects the problems of one request, keeping the first 20 and counting the rest. */
export class Violations {
  readonly #list: FieldViolation[] = [];
  #more = 0;

  add(field: string, reason: FieldViolation["reason"], description: string): void {
    if (this.#list.length < maxViolations) this.#list.push({ field, reason, description });
    else this.#more++;
  }

  get empty(): boolean {
    return this.#list.length === 0;
  }

  /** The violations, the last one saying how many more were found when some were left out. */
  result(): FieldViolation[] {
    if (this.#more === 0) return this.#list;
    const last = this.#list.at(-1)!;
    return [
      ...this.#list.slice(0, -1),
      { ...last, description: `${last.description} (and ${this.#more} more problems)` },
    ];
  }
}
