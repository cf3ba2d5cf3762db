import {
  createCollateral,
  createDstackAttestation,
  createNrasKey,
  createTestPki,
  type DcapCollateral,
  type NrasKey,
  type TestPki,
} from "@chaoschain/zerog-tee-sim";
import type { AttestationSource } from "./placeholder-attestation.js";

/** What a verifier policy needs to trust the devnet's synthetic attestations. TEST ONLY. */
export type DevnetTrust = {
  /** Test root CA (stands in for the Intel SGX Root CA). */
  rootCaPem: string;
  rootCaDer: Uint8Array;
  /** dcap-qvl collateral valid ±15 days around the devnet's start. */
  collateral: DcapCollateral;
  /** JWKS of the NRAS stand-in key that signs `nras_token`. */
  jwks: NrasKey["jwks"];
};

export type CreateTeeSimAttestationParameters = {
  /** Seed of the test PKI and NRAS key. Default "zerog-devnet". */
  seed?: string | undefined;
  /** Unix seconds the quotes and collateral are centred on. Default: now. */
  now?: number | undefined;
  /** Include NVIDIA evidence + NRAS token. Default true. */
  gpu?: boolean | undefined;
};

export type CreateTeeSimAttestationReturnType = {
  /** Pass as `attestation` to `startProviderSimulator` / `startDevnet`. */
  source: AttestationSource;
  trust: DevnetTrust;
  /** The test PKI behind the quotes and collateral (serve it with `startPccsSimulator`). TEST ONLY. */
  pki: TestPki;
  /** Unix seconds the quotes and collateral are centred on. */
  now: number;
};

/**
 * Attestations from `@chaoschain/zerog-tee-sim`: per TEE signer, a dstack `GetQuoteResponse` with a
 * real (test-PKI-signed) TDX quote whose REPORTDATA binds the signer address (`address-ascii`,
 * the 0G legacy layout), the `compose-hash` event of the provider's app compose, and optionally
 * NVIDIA evidence with an NRAS token. Bodies are built once per signer and cached.
 *
 * @example
 * const { source, trust } = createTeeSimAttestation();
 * const devnet = await startDevnet({ attestation: source, trust });
 */
export function createTeeSimAttestation(
  params: CreateTeeSimAttestationParameters = {},
): CreateTeeSimAttestationReturnType {
  const seed = params.seed ?? "zerog-devnet";
  const now = params.now ?? Math.floor(Date.now() / 1000);
  const pki = createTestPki({ seed });
  const nrasKey = createNrasKey({ seed });
  const gpu = params.gpu ?? true;
  const cache = new Map<string, object>();
  const source: AttestationSource = (teeAddress, context) => {
    const key = `${teeAddress.toLowerCase()}|${context.appCompose}`;
    let body = cache.get(key);
    if (!body) {
      body = createDstackAttestation({
        pki,
        signingAddress: teeAddress,
        binding: "address-ascii",
        appCompose: context.appCompose,
        now,
        gpu: gpu ? { nrasKey } : undefined,
      }).body;
      cache.set(key, body);
    }
    return body;
  };
  return {
    source,
    pki,
    now,
    trust: {
      rootCaPem: pki.rootCaPem,
      rootCaDer: pki.rootCaDer,
      collateral: createCollateral({ pki, now }),
      jwks: nrasKey.jwks,
    },
  };
}
