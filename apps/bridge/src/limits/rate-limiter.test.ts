import { describe, expect, it } from "vitest";
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
