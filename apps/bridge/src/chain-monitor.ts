import { ChainRpcError, chainIdOf, rpcCall, urlOrigin } from "./zerog/chain-rpc.js";

/** What a chain check found: the RPC answered, or why not (one line, no URL path or query). */
export type ChainCheck =
  | { ok: true; seconds: number; chainId: bigint }
  | { ok: false; seconds: number; reason: string };

export interface ChainMonitorOptions {
  /** The chain's JSON-RPC URL. Only its origin appears in reasons: a path may hold an API key. */
  rpcUrl: string;
  /** Time between the end of a check and the next, ms. */
  intervalMs: number;
  /** Longest wait for an answer, ms. Default: the interval, at most 5 s. */
  timeoutMs?: number;
  /** The chain id the bridge started on: a check fails while the RPC answers another. Default: the first one answered. */
  chainId?: bigint | undefined;
  /** Each check's outcome. */
  onCheck(check: ChainCheck): void;
}

export { urlOrigin };

/** Largest answer a check accepts: a block number or chain id is a few bytes. */
const maxCheckAnswerBytes = 64 * 1024;

/**
 * One `eth_blockNumber` (the cheapest call that shows the node answers) and one `eth_chainId`: an RPC
 * answering for another chain than `chainId` (the one the bridge started on) fails the check.
 */
export async function checkChain(rpcUrl: string, timeoutMs: number, chainId?: bigint): Promise<ChainCheck> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const at = urlOrigin(rpcUrl);
  const limits = { timeoutMs, maxResponseBytes: maxCheckAnswerBytes };
  try {
    const [block, chain] = await Promise.all([
      rpcCall(rpcUrl, "eth_blockNumber", limits),
      rpcCall(rpcUrl, "eth_chainId", limits),
    ]);
    if (typeof block !== "string")
      return {
        ok: false,
        seconds: seconds(),
        reason: `the 0G chain RPC at ${at} answered without a block number`,
      };
    const answered = chainIdOf(chain);
    if (answered === undefined)
      return {
        ok: false,
        seconds: seconds(),
        reason: `the 0G chain RPC at ${at} answered without a chain id`,
      };
    if (chainId !== undefined && answered !== chainId) {
      return {
        ok: false,
        seconds: seconds(),
        reason: `the 0G chain RPC at ${at} answers chain id ${answered}, not ${chainId} it answered at start; the bridge signs for chain ${chainId} only`,
      };
    }
    return { ok: true, seconds: seconds(), chainId: answered };
  } catch (err) {
    if (!(err instanceof ChainRpcError)) throw err;
    return { ok: false, seconds: seconds(), reason: err.message };
  }
}

/**
 * Checks the chain RPC now and then every `intervalMs` (one check at a time), until `stop()`.
 */
export function startChainMonitor(o: ChainMonitorOptions): { stop(): void } {
  const timeoutMs = o.timeoutMs ?? Math.min(o.intervalMs, 5000);
  let chainId = o.chainId;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const check = await checkChain(o.rpcUrl, timeoutMs, chainId);
    if (check.ok) chainId ??= check.chainId;
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
