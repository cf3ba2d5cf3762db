import { DevnetError } from "./errors.js";
import type { DevnetTrust } from "./tee-sim-attestation.js";

/**
 * The verifier policy under which the devnet's proofs verify, as plain JSON (write it to a file and
 * pass it to `zerog-verify --policy`). Fields as documented in the verifier's "Policy reference".
 * TEST ONLY: it trusts the devnet's synthetic root CA and NRAS key, which anyone can sign with.
 */
export type DevnetPolicy = {
  tee: {
    /** The devnet's test root CA (stands in for the Intel SGX Root CA). */
    rootCaPem: string;
    /** Hex allow-lists of the measurements the devnet's quotes carry. */
    mrtd: string[];
    rtmr0: string[];
    rtmr1: string[];
    rtmr2: string[];
  };
  /** `"sha256:<compose hash>"` of every provider's workload. */
  dockerDigests: string[];
  gpu: {
    /** True when the providers attest their GPUs (NRAS tokens in `/v1/quote`). */
    required: boolean;
    /** The NRAS stand-in key. */
    jwks: DevnetTrust["jwks"];
    issuers: string[];
  };
};

/** The fields of a dstack `GetQuoteResponse` the policy is built from. */
type AttestationBody = {
  tcb_info?: { mrtd?: unknown; rtmr0?: unknown; rtmr1?: unknown; rtmr2?: unknown; compose_hash?: unknown };
  nras_token?: unknown;
};

/** NRAS issuer of the devnet's tokens (and NVIDIA's). */
export const NRAS_ISSUER = "https://nras.attestation.nvidia.com";

/**
 * Builds the devnet's verification policy from its trust anchors and the attestation bodies its
 * providers serve at `GET /v1/quote`: the measurements and compose hashes actually attested.
 *
 * @example
 * const policy = createDevnetPolicy({ trust, attestations: [await (await fetch(`${url}/v1/quote`)).json()] });
 */
export function createDevnetPolicy(params: {
  trust: DevnetTrust;
  attestations: readonly object[];
}): DevnetPolicy {
  const lists = {
    mrtd: new Set<string>(),
    rtmr0: new Set<string>(),
    rtmr1: new Set<string>(),
    rtmr2: new Set<string>(),
  };
  const dockerDigests = new Set<string>();
  let gpu = params.attestations.length > 0;
  for (const body of params.attestations as AttestationBody[]) {
    const info = body.tcb_info;
    for (const key of ["mrtd", "rtmr0", "rtmr1", "rtmr2", "compose_hash"] as const) {
      if (typeof info?.[key] !== "string" || !/^[0-9a-f]+$/.test(info[key] as string))
        throw new DevnetError("An attestation body has no dstack tcb_info measurements", {
          code: "SIMULATOR_START_FAILED",
          details: `tcb_info.${key} is missing or not lower-case hex`,
        });
    }
    for (const key of ["mrtd", "rtmr0", "rtmr1", "rtmr2"] as const) lists[key].add(info?.[key] as string);
    dockerDigests.add(`sha256:${info?.compose_hash as string}`);
    if (typeof body.nras_token !== "string") gpu = false;
  }
  return {
    tee: {
      rootCaPem: params.trust.rootCaPem,
      mrtd: [...lists.mrtd],
      rtmr0: [...lists.rtmr0],
      rtmr1: [...lists.rtmr1],
      rtmr2: [...lists.rtmr2],
    },
    dockerDigests: [...dockerDigests],
    gpu: { required: gpu, jwks: params.trust.jwks, issuers: [NRAS_ISSUER] },
  };
}
