/**
 * Binary encodings already made of messages the bridge serves as they are. A result's proof carries its
 * provider's attestation (~30 kB, the same in every proof of that provider), which the job stores keep
 * encoded once; a result is written to the wire from those bytes instead of being encoded again for each
 * GetResult (about 55 kB of garbage and 0.1 ms of CPU each). A message given here is not changed after:
 * its encoding would no longer be it.
 */
const encodings = new WeakMap<object, Uint8Array | (() => Uint8Array)>();

/**
 * `message`, its binary encoding remembered: `bytes`, the encoding of a message equal to it, or the
 * function that makes them, called once, when they are first asked for (a result nobody fetches is
 * never encoded).
 */
export function rememberEncoding<T extends object>(message: T, bytes: Uint8Array | (() => Uint8Array)): T {
  encodings.set(message, bytes);
  return message;
}

/** The binary encoding remembered for `message`, if any. */
export function knownEncoding(message: object): Uint8Array | undefined {
  const known = encodings.get(message);
  if (typeof known !== "function") return known;
  const bytes = known();
  encodings.set(message, bytes);
  return bytes;
}
