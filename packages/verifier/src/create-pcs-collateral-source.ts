import { type CachedCollateralSource, createCollateralSource } from "./collateral.js";
import type { InvalidInputError } from "./errors/input.js";
import {
  type FetchPcsCollateralReturnType,
  fetchPcsCollateral,
  type PcsOptions,
  resolvePcsOptions,
} from "./fetch-pcs-collateral.js";

export interface CreatePcsCollateralSourceParameters extends PcsOptions {
  /** Keep an entry at most this long (seconds), even when its `nextUpdate` is later. Default 3600. */
  ttlSeconds?: number | undefined;
  /** Most platforms (TEE type, FMSPC, CA) cached; least recently used dropped first. Default 64. */
  maxEntries?: number | undefined;
}

/** A cached PCS / PCCS collateral source; `getCollateral` returns what {@link fetchPcsCollateral} does. */
export interface PcsCollateralSource extends CachedCollateralSource {
  getCollateral: (
    ...args: Parameters<CachedCollateralSource["getCollateral"]>
  ) => Promise<FetchPcsCollateralReturnType>;
  /** The PCS / PCCS base URL. */
  readonly url: string;
  /** Where the root CA CRL is fetched. */
  readonly rootCaCrlUrl: string;
}

export type CreatePcsCollateralSourceReturnType = PcsCollateralSource;
export type CreatePcsCollateralSourceErrorType = InvalidInputError;

/**
 * A {@link CollateralSource} that fetches from Intel's PCS (default) or any PCCS with its v4 API, with
 * {@link fetchPcsCollateral}, cached per (TEE type, FMSPC, CA) until the earliest `nextUpdate` of what was
 * served (and at most `ttlSeconds`). Pass it wherever collateral is taken (`verifyQuote`, `verifyProof`), or
 * ask it yourself with {@link readCollateralRequest} to keep the exact collateral (e.g. to embed it in a proof).
 * Works in Node ≥ 20 and in browsers (the PCS must then allow your origin, or go through a PCCS that does).
 *
 * @throws {InvalidInputError} for bad options (a URL that is not http(s), a bad timeout or bound).
 * @example
 * const source = createPcsCollateralSource(); // Intel's PCS; { url: "https://pccs.example:8081" } for a PCCS
 * const report = await verifyQuote(quote, source, { now: Math.floor(Date.now() / 1000) });
 */
export function createPcsCollateralSource(
  params: CreatePcsCollateralSourceParameters = {},
): PcsCollateralSource {
  const options = resolvePcsOptions(params);
  const source = createCollateralSource({
    fetch: (request) => fetchPcsCollateral(request, params),
    ttlSeconds: params.ttlSeconds,
    maxEntries: params.maxEntries,
  });
  return {
    size: source.size,
    clear: source.clear,
    getCollateral: (request) => source.getCollateral(request) as Promise<FetchPcsCollateralReturnType>,
    url: options.url,
    rootCaCrlUrl: options.rootCaCrlUrl,
  };
}
