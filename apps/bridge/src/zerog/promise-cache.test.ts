import { describe, expect, it, vi } from "vitest";
import { PromiseCache } from "./promise-cache.js";

describe("PromiseCache", () => {
  it("shares one promise between concurrent callers", async () => {
    const cache = new PromiseCache<string, number>();
    let calls = 0;
    const make = async () => ++calls;
    expect(await Promise.all([cache.get("a", make), cache.get("a", make)])).toEqual([1, 1]);
    expect(await cache.get("b", make)).toBe(2);
    expect(calls).toBe(2);
  });

  it("forgets a rejection so the next call tries again", async () => {
    const cache = new PromiseCache<string, number>();
    await expect(cache.get("a", () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await cache.get("a", async () => 7)).toBe(7);
  });

  it("keeps a value only for ttlMs", async () => {
    vi.useFakeTimers();
    try {
      const cache = new PromiseCache<string, number>(20);
      let calls = 0;
      const make = async () => ++calls;
      await cache.get("a", make);
      vi.advanceTimersByTime(19);
      expect(await cache.get("a", make)).toBe(1);
      vi.advanceTimersByTime(1);
      expect(await cache.get("a", make)).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
