/**
 * A small Prometheus registry: counters, gauges and histograms with labels, written in the text
 * exposition format (version 0.0.4). Label values come only from the bridge's own bounded sets
 * (method names, codes, key ids, states), never from a request as such.
 */

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  write(out: string[]): void;
}

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function formatLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

const key = (labels: Labels) => JSON.stringify(Object.values(labels));

export class Counter<L extends string = never> {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  inc(labels: Record<L, string>, by = 1): void {
    const k = key(labels);
    const entry = this.#values.get(k);
    if (entry) entry.value += by;
    else this.#values.set(k, { labels, value: by });
  }
  /** Sets the total read from elsewhere (the process's CPU time). */
  setTotal(labels: Record<L, string>, value: number): void {
    this.#values.set(key(labels), { labels, value });
  }
  get(labels: Record<L, string>): number {
    return this.#values.get(key(labels))?.value ?? 0;
  }
  write(name: string, out: string[]): void {
    for (const { labels, value } of this.#values.values())
      out.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  }
}

export class Gauge<L extends string = never> {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  set(labels: Record<L, string>, value: number): void {
    this.#values.set(key(labels), { labels, value });
  }
  /** Replaces every value at once (a snapshot, e.g. jobs by state). */
  reset(): void {
    this.#values.clear();
  }
  write(name: string, out: string[]): void {
    for (const { labels, value } of this.#values.values())
      out.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  }
}

/** Seconds, from 1 ms to 5 min: RPCs, store writes, provider calls and whole jobs alike. */
export const defaultBuckets = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

export class Histogram<L extends string = never> {
  readonly #buckets: readonly number[];
  readonly #values = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(buckets: readonly number[] = defaultBuckets) {
    this.#buckets = buckets;
  }
  observe(labels: Record<L, string>, value: number): void {
    const k = key(labels);
    let entry = this.#values.get(k);
    if (!entry) {
      entry = { labels, counts: this.#buckets.map(() => 0), sum: 0, count: 0 };
      this.#values.set(k, entry);
    }
    // Counted in its own bucket only; `write` makes them cumulative.
    const i = this.#buckets.findIndex((le) => value <= le);
    if (i >= 0) entry.counts[i]!++;
    entry.sum += value;
    entry.count++;
  }
  write(name: string, out: string[]): void {
    for (const { labels, counts, sum, count } of this.#values.values()) {
      let cumulative = 0;
      this.#buckets.forEach((le, i) => {
        cumulative += counts[i]!;
        out.push(`${name}_bucket${formatLabels(labels, ["le", formatValue(le)])} ${cumulative}`);
      });
      out.push(`${name}_bucket${formatLabels(labels, ["le", "+Inf"])} ${count}`);
      out.push(`${name}_sum${formatLabels(labels)} ${formatValue(sum)}`);
      out.push(`${name}_count${formatLabels(labels)} ${count}`);
    }
  }
}

/** The metrics of one process, and callbacks that refresh gauges just before each scrape. */
export class Registry {
  readonly #families: Family[] = [];
  readonly #collectors: Array<() => void | Promise<void>> = [];

  #add<M extends { write(name: string, out: string[]): void }>(
    type: Family["type"],
    name: string,
    help: string,
    metric: M,
  ): M {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new TypeError(`bad metric name ${name}`);
    this.#families.push({ name, help, type, write: (out) => metric.write(name, out) });
    return metric;
  }

  counter<L extends string = never>(name: string, help: string): Counter<L> {
    return this.#add("counter", name, help, new Counter<L>());
  }

  gauge<L extends string = never>(name: string, help: string): Gauge<L> {
    return this.#add("gauge", name, help, new Gauge<L>());
  }

  histogram<L extends string = never>(name: string, help: string, buckets?: readonly number[]): Histogram<L> {
    return this.#add("histogram", name, help, new Histogram<L>(buckets));
  }

  /** Runs before each scrape (reads of the store, the process); a failing one is skipped. */
  collect(fn: () => void | Promise<void>): void {
    this.#collectors.push(fn);
  }

  /** The text exposition of every metric. */
  async expose(): Promise<string> {
    await Promise.allSettled(this.#collectors.map(async (fn) => fn()));
    const out: string[] = [];
    for (const f of this.#families) {
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      f.write(out);
    }
    return `${out.join("\n")}\n`;
  }
}

/** The Content-Type of the text exposition format. */
export const exposition = "text/plain; version=0.0.4; charset=utf-8";
