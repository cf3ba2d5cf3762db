import { describe, expect, it } from "vitest";
import { histogram, parseExposition, sample } from "../../test/prometheus.js";
import { createBridgeMetrics } from "./bridge-metrics.js";
import { Registry } from "./registry.js";

describe("metrics registry", () => {
  it("writes counters, gauges and histograms that an independent parser reads back", async () => {
    const r = new Registry();
    const c = r.counter<"method" | "code">("t_calls_total", "Calls.\nSecond line \\ with backslash.");
    const g = r.gauge<"state">("t_jobs", "Jobs.");
    const h = r.histogram<"op">("t_seconds", "Durations.", [0.1, 1]);
    c.inc({ method: "Submit", code: "ok" });
    c.inc({ method: "Submit", code: "ok" }, 2);
    c.inc({ method: 'we"ird\\\nname', code: "internal" });
    g.set({ state: "queued" }, 7);
    h.observe({ op: "insert" }, 0.05);
    h.observe({ op: "insert" }, 0.5);
    h.observe({ op: "insert" }, 5);
    let collected = 0;
    r.collect(() => {
      collected++;
      g.set({ state: "running" }, 1);
    });
    r.collect(() => {
      throw new Error("a failing collector is skipped");
    });
    const text = await r.expose();
    const parsed = parseExposition(text);
    expect(collected).toBe(1);
    expect(sample(parsed, "t_calls_total", { method: "Submit", code: "ok" })).toBe(3);
    expect(sample(parsed, "t_calls_total", { method: 'we"ird\\\nname', code: "internal" })).toBe(1);
    expect(sample(parsed, "t_jobs", { state: "running" })).toBe(1);
    const hist = histogram(parsed, "t_seconds", { op: "insert" })!;
    expect(hist.buckets).toEqual([
      [0.1, 1],
      [1, 2],
      [Number.POSITIVE_INFINITY, 3],
    ]);
    expect(hist.sum).toBeCloseTo(5.55);
    expect(hist.count).toBe(3);
    expect(parsed.families.get("t_calls_total")!.help).toContain("Second line");
  });

  it("exports every bridge metric as a declared family", async () => {
    const m = createBridgeMetrics();
    m.calls.inc({ method: "chaoschain.zerog.v1.ComputeService/Submit", code: "ok", key: "agent-a" });
    m.stageSeconds.observe({ stage: "queued" }, 0.2);
    const parsed = parseExposition(await m.registry.expose());
    for (const name of [
      "zerog_rpc_calls_total",
      "zerog_job_stage_seconds",
      "process_resident_memory_bytes",
      "process_cpu_seconds_total",
      "nodejs_eventloop_delay_seconds",
    ])
      expect(parsed.families.has(name), name).toBe(true);
    expect(sample(parsed, "process_resident_memory_bytes")).toBeGreaterThan(1e6);
  });
});
