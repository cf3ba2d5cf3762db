/**
 * Binary encodings already made of messages the bridge serves as they are. A result's proof carries its
 * provider's attestation (~30 kB, the same in every proof of that provider), which the job stores keep
 * encoded once; a result is written to the wire from those bytes instead of being encoded again for each
 * GetResult (about 55 kB of garbage and 0.1 ms of CPU each). A message given here is not changed after:
 * its encoding would no longer be it.
 */
const encodings = new WeakMap<object, Uint8Array>();

/** `message`, its binary encoding remembered as `bytes` (the encoding of a message equal to it). */
export function rememberEncoding<T extends object>(message: T, bytes: Uint8Array): T {
  encodings.set(message, bytes);
  return message;
}

/** The binary encoding remembered for `message`, if any. */
export function knownEncoding(message: object): Uint8Array | undefined {
  return encodings.get(message);
}
