import { p384 } from "@noble/curves/nist.js";
import { deriveBytes, randomSeed, toBase64Url, utf8ToBytes } from "./util.js";

export interface NrasKey {
  kid: string;
  privateKey: Uint8Array;
  /** JWKS with the ES384 public key, as NVIDIA serves at /.well-known/jwks.json. */
  jwks: {
    keys: Array<{ kty: "EC"; crv: "P-384"; x: string; y: string; kid: string; alg: "ES384"; use: "sig" }>;
  };
}

/** An ES384 key standing in for NVIDIA's NRAS signing key. */
export function createNrasKey(opts: { seed?: string; kid?: string } = {}): NrasKey {
  const seed = opts.seed ?? randomSeed();
  const privateKey = p384.utils.randomSecretKey(deriveBytes(seed, "nras-key", p384.lengths.seed as number));
  const pub = p384.getPublicKey(privateKey, false);
  const kid = opts.kid ?? `test-nras-${seed.slice(0, 8)}`;
  return {
    kid,
    privateKey,
    jwks: {
      keys: [
        {
          kty: "EC",
          crv: "P-384",
          x: toBase64Url(pub.subarray(1, 49)),
          y: toBase64Url(pub.subarray(49, 97)),
          kid,
          alg: "ES384",
          use: "sig",
        },
      ],
    },
  };
}

export interface CreateNrasTokenParameters {
  key: NrasKey;
  /** Hex nonce the GPU evidence was produced for. */
  nonce: string;
  /** Unix seconds (iat / nbf); exp = now + ttlSeconds. */
  now: number;
  ttlSeconds?: number | undefined;
  overallResult?: boolean | undefined;
  /** Extra claims merged into the payload. */
  claims?: Record<string, unknown> | undefined;
  /** Sign with this key but keep `key`'s kid (to forge a bad signature). */
  signingKey?: Uint8Array | undefined;
}

/** A compact JWS (ES384) shaped like an NVIDIA NRAS attestation result. */
export function createNrasToken(p: CreateNrasTokenParameters): string {
  const header = { alg: "ES384", typ: "JWT", kid: p.key.kid };
  const payload = {
    iss: "https://nras.attestation.nvidia.com",
    sub: "NVIDIA-GPU-ATTESTATION",
    iat: p.now,
    nbf: p.now,
    exp: p.now + (p.ttlSeconds ?? 3600),
    eat_nonce: p.nonce,
    "x-nvidia-overall-att-result": p.overallResult ?? true,
    "x-nvidia-ver": "2.0",
    ...p.claims,
  };
  const signingInput = `${toBase64Url(utf8ToBytes(JSON.stringify(header)))}.${toBase64Url(utf8ToBytes(JSON.stringify(payload)))}`;
  const sig = p384.sign(utf8ToBytes(signingInput), p.signingKey ?? p.key.privateKey, {
    prehash: true,
    format: "compact",
  });
  return `${signingInput}.${toBase64Url(sig)}`;
}
