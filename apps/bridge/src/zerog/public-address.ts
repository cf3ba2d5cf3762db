import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";

// The bridge reaches hosts that others name (a provider's registry URL, a caller's dataset URL): those
// must not lead it into its own network.

/** Loopback, private, shared (CGNAT), link-local (cloud metadata), multicast and reserved ranges. */
const nonPublic = new BlockList();
for (const [net, bits] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
] as const)
  nonPublic.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [
  ["::", 127],
  ["64:ff9b::", 96],
  ["fc00::", 7],
  ["fe80::", 10],
  ["fec0::", 10],
  ["ff00::", 8],
] as const)
  nonPublic.addSubnet(net, bits, "ipv6");

/**
 * Whether `address` (an IP literal, brackets allowed) is a public unicast address. An IPv4-mapped IPv6
 * address is judged as its IPv4 address; one in hex form is refused rather than decoded.
 */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped) return isPublicAddress(mapped);
  const family = isIP(ip);
  if (family === 0) return false;
  if (family === 6 && /^::ffff:/i.test(ip)) return false;
  return !nonPublic.check(ip, family === 4 ? "ipv4" : "ipv6");
}

/** A host name that resolves to an address that is not public. */
export class NonPublicAddressError extends Error {
  override name = "NonPublicAddressError";

  constructor(
    readonly hostname: string,
    readonly address: string,
  ) {
    super(`${hostname} resolves to a non-public address (${address})`);
  }
}

/**
 * `dns.lookup` for connections that must reach public hosts only: it fails with
 * {@link NonPublicAddressError} when the name resolves to any address that is not public. Checked at
 * connect time, so a name cannot resolve to a public address when checked and a private one when used.
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, "", 0);
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad) return callback(new NonPublicAddressError(hostname, bad.address), "", 0);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first)
      return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
    callback(null, first.address, first.family);
  });
};
