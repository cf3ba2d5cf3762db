import { type Rate, RateLimiter } from "../limits/rate-limiter.js";

/**
 * `render`, run at most at `rate`: a call while a render runs waits for it, and a call over the rate
 * gets the last text rendered. A burst of scrapes (`--metrics public` lets anyone ask) costs a bounded
 * number of renders, while scrapes at a scraper's pace each get a fresh one. A failed render is
 * answered to the calls that waited for it, and the next call renders again.
 *
 * @example
 * const expose = throttledRender(() => registry.expose(), { perSecond: 5, burst: 10 });
 * await Promise.all([expose(), expose()]); // one render
 */
export function throttledRender(
  render: () => Promise<string>,
  rate: Rate,
  now?: () => number,
): () => Promise<string> {
  const limiter = new RateLimiter(now);
  let running: Promise<string> | undefined;
  let last: string | undefined;
  return () => {
    if (running) return running;
    const allowed = limiter.take("render", rate) === undefined;
    if (!allowed && last !== undefined) return Promise.resolve(last);
    running = render()
      .then((text) => {
        last = text;
        return text;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
}
