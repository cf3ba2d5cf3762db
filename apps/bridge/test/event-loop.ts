/** About `size` bytes of JSONL instruction records (a large fine-tuning dataset). */
export function bigDataset(size: number): string {
  const line = `${JSON.stringify({ instruction: "Say hi ".repeat(10), output: "hi there ".repeat(20) })}\n`;
  return line.repeat(Math.ceil(size / line.length));
}

/**
 * `work`'s result and how many turns the event loop made while it ran, counted by a setImmediate chain
 * (one tick per turn). Without I/O in `work`, that is how many times it yielded.
 */
export async function turnsDuring<T>(work: () => Promise<T> | T): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  const result = await work();
  running = false;
  return { result, turns };
}

/**
 * `work`'s result and the longest the event loop went without a turn while it ran, ms: how late a timer
 * scheduled during `work` could fire. Measured up to the first turn after `work` ends, so that a block
 * just before it resolves counts too.
 */
export async function longestTurnDuring<T>(
  work: () => Promise<T>,
): Promise<{ result: T; longestMs: number }> {
  let last = performance.now();
  let longestMs = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    longestMs = Math.max(longestMs, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const result = await work();
  running = false;
  await new Promise((resolve) => setImmediate(resolve));
  tick();
  return { result, longestMs };
}
