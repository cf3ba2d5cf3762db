import { describe, expect, it } from "vitest";
import { throttledRender } from "./throttled-render.js";

describe("throttledRender", () => {
  it("shares a render in progress, answers the last text over the rate, renders again as the rate allows", async () => {
    let clock = 0;
    let renders = 0;
    let finish: (() => void) | undefined;
    const expose = throttledRender(
      () =>
        new Promise<string>((resolve) => {
          renders++;
          finish = () => resolve(`render ${renders}`);
        }),
      { perSecond: 1, burst: 2 },
      () => clock,
    );
    const during = [expose(), expose(), expose()];
    finish!();
    expect(await Promise.all(during)).toEqual(["render 1", "render 1", "render 1"]);
    // The burst's second token: a fresh render; then the last text until a token is back.
    const second = expose();
    finish!();
    expect(await second).toBe("render 2");
    expect(await expose()).toBe("render 2");
    expect(await expose()).toBe("render 2");
    expect(renders).toBe(2);
    clock = 1000;
    const third = expose();
    finish!();
    expect(await third).toBe("render 3");
  });

  it("renders again after a failed render", async () => {
    let fail = true;
    const expose = throttledRender(
      async () => {
        if (fail) throw new Error("store down");
        return "ok";
      },
      { perSecond: 1, burst: 1 },
      () => 0,
    );
    await expect(expose()).rejects.toThrow("store down");
    fail = false;
    expect(await expose()).toBe("ok");
  });
});
