import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { untilAborted } from "./delay.js";

describe("untilAborted", () => {
  it("leaves no listener on the signal once the promise settles, however many calls share it", async () => {
    const shared = new AbortController().signal;
    for (let i = 0; i < 100; i++) {
      expect(await untilAborted(Promise.resolve(i), shared)).toBe(i);
      await expect(untilAborted(Promise.reject(new Error("no")), shared)).rejects.toThrow("no");
    }
    expect(getEventListeners(shared, "abort")).toHaveLength(0);
  });

  it("rejects with the reason when the signal aborts first, or has already", async () => {
    const controller = new AbortController();
    const pending = untilAborted(new Promise(() => {}), controller.signal);
    controller.abort("stopping");
    await expect(pending).rejects.toBe("stopping");
    await expect(untilAborted(new Promise(() => {}), controller.signal)).rejects.toBe("stopping");
  });
});
