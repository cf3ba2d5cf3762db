import { secp256k1 } from "@noble/curves/secp256k1.js";
import { blocked, type Check, fail, pass, skip } from "../check.js";
import { bytesToHex } from "../internal/bytes.js";
import { blockedByFormat, type ProofContext, proofOf } from "../proof-context.js";

const NAME = "response.enclave_pubkey";

/** A secp256k1 public key given as 65 (0x04…), 64 (x ‖ y) or 33 (compressed) bytes of hex, uncompressed. */
export function uncompressedKey(text: string): string | undefined {
  const hex = text.trim().replace(/^0x/i, "").toLowerCase();
  if (!/^[0-9a-f]*$/.test(hex)) return undefined;
  const key = hex.length === 128 ? `04${hex}` : hex;
  try {
    return bytesToHex(secp256k1.Point.fromHex(key).toBytes(false));
  } catch {
    return undefined;
  }
}

/**
 * Whether `claimed` (any of the three forms, any case, 0x optional) is the key `recovered` (uncompressed hex,
 * no 0x). An uncompressed claim is compared as text: `recovered` is a curve point, so the same text is the
 * same valid key, and only a compressed claim costs a decompression.
 */
export function claimsKey(claimed: string, recovered: string): boolean {
  const hex = claimed.trim().replace(/^0x/i, "").toLowerCase();
  if (hex === recovered || `04${hex}` === recovered) return true;
  return uncompressedKey(claimed) === recovered;
}

/** `response.enclave_pubkey`: the claimed `enclave_pubkey` (any of its three forms) is the signing key. */
export function responseEnclavePubkey(ctx: ProofContext): Check {
  const p = proofOf(ctx);
  if (!p) return blockedByFormat(NAME);
  const sig = ctx.signature?.ok ? ctx.signature.value : undefined;
  if (!sig?.ok) return blocked(NAME, "response.signature");
  if (p.enclavePubkey === "")
    return skip(NAME, "not_required", "no enclave_pubkey claimed: nothing to compare");
  const recovered = sig.pubkey.replace(/^0x/, "");
  if (!claimsKey(p.enclavePubkey, recovered))
    return fail(
      NAME,
      "enclave_pubkey_mismatch",
      "enclave_pubkey is not the key recovered from the signature",
      {
        recovered: sig.pubkey,
      },
    );
  return pass(NAME, "enclave_pubkey is the key recovered from the signature", { claimed: true });
}
