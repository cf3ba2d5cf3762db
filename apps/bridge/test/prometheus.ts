// @ts-expect-error: the parser ships no types; its output shape is declared below.
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { expect } from "vitest";

/** A metric family as parse-prometheus-text-format (prom2json's shape) reads it. */
export interface ParsedFamily {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  metrics: Array<{ labels?: Record<string, string>; value?: string }>;
}

/** One histogram of a family, by its labels (without `le`). */
export interface ParsedHistogram {
  labels: Record<string, string>;
  buckets: Array<[le: number, count: number]>;
  sum: number;
  count: number;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const unescapeLabel = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));

/**
 * Parses a text exposition with an independent parser (it throws on a malformed line) and checks what
 * it does not: every family declared once with HELP and TYPE, every sample in a declared family, and
 * each histogram's buckets cumulative and ending in +Inf = count (read from the lines: the parser
 * drops the labels of histograms).
 */
export function parseExposition(text: string): {
  families: Map<string, ParsedFamily>;
  histograms: Map<string, ParsedHistogram[]>;
} {
  expect(text.endsWith("\n")).toBe(true);
  const parsed = (parsePrometheusTextFormat as (t: string) => ParsedFamily[])(text);
  const families = new Map<string, ParsedFamily>();
  for (const f of parsed) {
    expect(families.has(f.name), `family ${f.name} declared once`).toBe(false);
    families.set(f.name, f);
    expect(f.help, `HELP of ${f.name}`).not.toBe("");
  }
  const histograms = new Map<string, ParsedHistogram[]>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = sampleLine.exec(line);
    expect(m, `sample line ${line}`).not.toBeNull();
    const [, name, labelText = "", value] = m!;
    const labels: Record<string, string> = {};
    for (const [, k, v] of labelText.matchAll(labelPair)) labels[k!] = unescapeLabel(v!);
    const base = name!.replace(/_(bucket|sum|count)$/, "");
    const family = families.get(name!) ?? families.get(base);
    expect(family, `${name} is declared`).toBeDefined();
    if (family!.type !== "HISTOGRAM") continue;
    const { le, ...rest } = labels;
    const list = histograms.get(base) ?? [];
    histograms.set(base, list);
    let h = list.find((x) => JSON.stringify(x.labels) === JSON.stringify(rest));
    if (!h) {
      h = { labels: rest, buckets: [], sum: Number.NaN, count: Number.NaN };
      list.push(h);
    }
    if (name!.endsWith("_bucket"))
      h.buckets.push([le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), Number(value)]);
    else if (name!.endsWith("_sum")) h.sum = Number(value);
    else h.count = Number(value);
  }
  for (const [name, list] of histograms) {
    for (const h of list) {
      expect(h.buckets.at(-1)?.[0], `${name} ends in +Inf`).toBe(Number.POSITIVE_INFINITY);
      expect(h.buckets.at(-1)?.[1]).toBe(h.count);
      for (let i = 1; i < h.buckets.length; i++) {
        expect(h.buckets[i]![0]).toBeGreaterThan(h.buckets[i - 1]![0]);
        expect(h.buckets[i]![1]).toBeGreaterThanOrEqual(h.buckets[i - 1]![1]);
      }
    }
  }
  return { families, histograms };
}

/** The value of a counter or gauge sample with exactly these labels (undefined when absent). */
export function sample(
  exposition: ReturnType<typeof parseExposition>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const m = exposition.families
    .get(name)
    ?.metrics.find((x) => JSON.stringify(x.labels ?? {}) === JSON.stringify(labels));
  return m?.value === undefined ? undefined : Number(m.value);
}

/** The histogram of `name` with exactly these labels. */
export function histogram(
  exposition: ReturnType<typeof parseExposition>,
  name: string,
  labels: Record<string, string> = {},
): ParsedHistogram | undefined {
  return exposition.histograms.get(name)?.find((h) => JSON.stringify(h.labels) === JSON.stringify(labels));
}
