/**
 * Size limits applied before any parsing, so hostile input costs O(size) to refuse. Real values are far below
 * (a TDX quote is ~5 KB, its PEM chain ~4 KB, a dstack event log ~20 KB, an NRAS token ~2 KB).
 * Oversize input fails with reason `input_too_large`; oversize collateral with `collateral_invalid`.
 */
export const LIMITS = Object.freeze({
  /** A DCAP quote (bytes; hex text may be twice as long). */
  quoteBytes: 64 * 1024,
  /** The PEM certificate chain inside a quote. */
  certificationDataBytes: 16 * 1024,
  /** Zero padding tolerated after a quote's auth data (Intel's sample and dstack quotes carry 70 bytes). */
  quotePaddingBytes: 4 * 1024,
  /** Each of the request and response bodies. */
  bodyBytes: 16 * 1024 * 1024,
  /** The dstack event log (JSON text). */
  eventLogBytes: 1024 * 1024,
  /** Entries of the event log. */
  eventLogEntries: 4096,
  /** The dstack app compose text. */
  appComposeBytes: 1024 * 1024,
  /** The NVIDIA NRAS token (JWT). */
  nrasTokenBytes: 256 * 1024,
  /** GPU evidence entries (each carried, not parsed). */
  gpuEvidenceEntries: 64,
  /** Any other string field of a proof (signature, hashes, addresses, names). */
  fieldBytes: 64 * 1024,
  /** Each collateral field (CRLs, TCB info, QE identity, issuer chains). */
  collateralFieldBytes: 4 * 1024 * 1024,
});
