/** What a chain check found: the RPC answered, or why not (one line, no URL path or query). */
export type ChainCheck = { ok: true; seconds: number } | { ok: false; seconds: number; reason: string };

export interface ChainMonitorOptions {
  /** The chain's JSON-RPC URL. Only its origin appears in reasons: a path may hold an API key. */
  rpcUrl: string;
  /** Time between the end of a check and the next, ms. */
  intervalMs: number;
  /** Longest wait for an answer, ms. Default: the interval, at most 5 s. */
  timeoutMs?: number;
  /** Each check's outcome. */
  onCheck(check: ChainCheck): void;
}

/** The origin of a URL, for messages: `https://rpc.example:8545`, never its path or query. */
export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "the configured RPC URL";
  }
}

/** One `eth_blockNumber`: the cheapest call that shows the node answers. */
export async function checkChain(rpcUrl: string, timeoutMs: number): Promise<ChainCheck> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const at = urlOrigin(rpcUrl);
  try {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => undefined)) as { result?: unknown } | undefined;
    if (res.ok && typeof body?.result === "string") return { ok: true, seconds: seconds() };
    return {
      ok: false,
      seconds: seconds(),
      reason: `the 0G chain RPC at ${at} answered HTTP ${res.status} without a block number`,
    };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.name);
    return { ok: false, seconds: seconds(), reason: `the 0G chain RPC at ${at} is not answering (${why})` };
  }
}

/**
 * Checks the chain RPC now and then every `intervalMs` (one check at a time), until `stop()`.
 */
export function startChainMonitor(o: ChainMonitorOptions): { stop(): void } {
  const timeoutMs = o.timeoutMs ?? Math.min(o.intervalMs, 5000);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const check = await checkChain(o.rpcUrl, timeoutMs);
    if (stopped) return;
    o.onCheck(check);
    timer = setTimeout(tick, o.intervalMs);
    timer.unref();
  };
  void tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
