import { ZeroGError } from "@chaoschain/zerog-core";
import { describe, expect, it } from "vitest";
import { JobQuota, quotaRetryDelayMs } from "./job-quota.js";
import { RateLimiter } from "./rate-limiter.js";

describe("RateLimiter", () => {
  it("lets a burst through, then one call per 1/rate, and says how long to wait", () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    const rate = { perSecond: 2, burst: 3 };
    expect([1, 2, 3].map(() => limiter.take("a", rate))).toEqual([undefined, undefined, undefined]);
    expect(limiter.take("a", rate)).toBe(500);
    // Another key has its own bucket.
    expect(limiter.take("b", rate)).toBeUndefined();
    now = 499;
    expect(limiter.take("a", rate)).toBe(2);
    now = 500;
    expect(limiter.take("a", rate)).toBeUndefined();
    // Idle for long: the bucket holds no more than the burst.
    now = 1_000_000;
    expect([1, 2, 3].map(() => limiter.take("a", rate))).toEqual([undefined, undefined, undefined]);
    expect(limiter.take("a", rate)).toBe(500);
  });

  it("starts a key's bucket full again when its limits change (a rotation)", () => {
    const now = 0;
    const limiter = new RateLimiter(() => now);
    limiter.take("a", { perSecond: 1, burst: 1 });
    expect(limiter.take("a", { perSecond: 1, burst: 1 })).toBe(1000);
    expect(limiter.take("a", { perSecond: 10, burst: 2 })).toBeUndefined();
  });
});

describe("JobQuota", () => {
  const openIn = (open: Set<string>) => async (id: string) => open.has(id);

  it("refuses a Submit over the maximum with quota_exceeded and a retry delay, until a job ends", async () => {
    const open = new Set<string>();
    const quota = new JobQuota(openIn(open));
    for (const id of ["j1", "j2"]) {
      const ticket = await quota.reserve("a", 2);
      open.add(id);
      ticket.keep(id);
      ticket.release();
    }
    const err = await quota.reserve("a", 2).catch((e: unknown) => e);
    expect((err as ZeroGError).code).toBe("quota_exceeded");
    expect((err as ZeroGError).retryDelayMs).toBe(quotaRetryDelayMs);
    expect(await quota.reserve("b", 2)).toBeDefined();
    quota.ended("j1");
    expect(await quota.reserve("a", 2)).toBeDefined();
  });

  it("counts Submits in progress, so concurrent ones cannot overshoot", async () => {
    const quota = new JobQuota(async () => true);
    const [first, second] = await Promise.allSettled([quota.reserve("a", 1), quota.reserve("a", 1)]);
    expect(first.status).toBe("fulfilled");
    expect(second.status === "rejected" && (second.reason as ZeroGError).code).toBe("quota_exceeded");
    if (first.status === "fulfilled") {
      first.value.release();
      first.value.release(); // twice is once
    }
    expect(quota.count("a")).toBe(0);
  });

  it("at the limit, frees the places of jobs the store says have ended (seen by another replica)", async () => {
    const open = new Set(["j1"]);
    const quota = new JobQuota(openIn(open));
    const t = await quota.reserve("a", 1);
    t.keep("j1");
    t.release();
    await expect(quota.reserve("a", 1)).rejects.toThrow(ZeroGError);
    open.delete("j1");
    expect(await quota.reserve("a", 1)).toBeDefined();
  });

  it("a job that ended before its Submit answered holds no place; at the limit, a store that cannot be read is the answer", async () => {
    const quota = new JobQuota(openIn(new Set()));
    const t = await quota.reserve("a", 1);
    t.keep("j1");
    t.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(quota.count("a")).toBe(0);
    const down = new JobQuota(async () => {
      throw new Error("database down");
    });
    const u = await down.reserve("a", 1);
    u.keep("j1");
    u.release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(down.count("a")).toBe(1);
    await expect(down.reserve("a", 1)).rejects.toThrow("database down");
  });

  it("an idempotent Submit returning an existing job holds one place, not two", async () => {
    const quota = new JobQuota(async () => true);
    for (let i = 0; i < 2; i++) {
      const t = await quota.reserve("a", 5);
      t.keep("j1");
      t.release();
    }
    expect(quota.count("a")).toBe(1);
  });
});
