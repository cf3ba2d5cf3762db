import { getAddress, getBytes, hashMessage, keccak256, recoverAddress, toUtf8Bytes } from "ethers";

/** Session token fields as the SDK serialises them (`base.js` generateSessionToken), in that order. */
export type SessionToken = {
  address: string;
  provider: string;
  timestamp: number;
  expiresAt: number;
  nonce: string;
  generation: number;
  tokenId: number;
};

/** Token id reserved for ephemeral tokens (not checked against the revoked bitmap). */
export const EPHEMERAL_TOKEN_ID = 255;
/** Ephemeral tokens may last at most 24 h. */
export const EPHEMERAL_TOKEN_MAX_DURATION_MS = 24 * 60 * 60 * 1000;

export type SessionTokenFailureReason =
  | "missing"
  | "malformed"
  | "wrong-provider"
  | "ephemeral-no-expiry"
  | "ephemeral-too-long"
  | "expired"
  | "bad-signature"
  | "signer-mismatch";

export type ParsedSessionToken = {
  token: SessionToken;
  /** The exact JSON text that was signed. */
  rawMessage: string;
  signature: string;
};

export type VerifySessionTokenReturnType =
  | { ok: true; user: string; token: SessionToken }
  | { ok: false; reason: SessionTokenFailureReason; message: string };

const PREFIX = "Bearer app-sk-";

function fail(reason: SessionTokenFailureReason, message: string): VerifySessionTokenReturnType {
  return { ok: false, reason, message };
}

/**
 * Parses `Authorization: Bearer app-sk-<base64(JSON|sig)>` like the provider broker
 * (`api/inference/internal/ctrl/request.go` ValidateSession): split at the first `|`.
 */
export function parseSessionToken(
  authorization: string | undefined,
): ParsedSessionToken | { error: SessionTokenFailureReason; message: string } {
  if (!authorization?.startsWith(PREFIX)) {
    return {
      error: "missing",
      message:
        "missing or invalid Authorization header, must be Bearer app-sk-<base64(rawMessage:signature)>",
    };
  }
  const enc = authorization.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(enc)) {
    return { error: "malformed", message: "invalid base64 in Authorization header" };
  }
  const decoded = Buffer.from(enc, "base64").toString("utf8");
  const bar = decoded.indexOf("|");
  if (bar < 0) {
    return {
      error: "malformed",
      message: "invalid Authorization payload, expect base64(rawMessage:signature)",
    };
  }
  const rawMessage = decoded.slice(0, bar);
  const signature = decoded.slice(bar + 1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawMessage);
  } catch {
    return { error: "malformed", message: "invalid session token format in Authorization" };
  }
  const t = parsed as Partial<Record<keyof SessionToken, unknown>>;
  if (
    typeof t.address !== "string" ||
    typeof t.provider !== "string" ||
    typeof t.timestamp !== "number" ||
    typeof t.expiresAt !== "number" ||
    typeof t.generation !== "number" ||
    typeof t.tokenId !== "number" ||
    !Number.isInteger(t.tokenId) ||
    t.tokenId < 0 ||
    t.tokenId > 255
  ) {
    return { error: "malformed", message: "invalid session token format in Authorization" };
  }
  return {
    token: {
      address: t.address,
      provider: t.provider,
      timestamp: t.timestamp,
      expiresAt: t.expiresAt,
      nonce: typeof t.nonce === "string" ? t.nonce : "",
      generation: t.generation,
      tokenId: t.tokenId,
    },
    rawMessage,
    signature,
  };
}

/**
 * Offline part of the provider's session validation: provider match, ephemeral-token limits, expiry
 * (compared in whole seconds, as the Go broker does) and the EIP-191 signature over
 * `keccak256(utf8(JSON))` recovering to `token.address`. Revocation (generation / bitmap) needs
 * the chain and is checked by the simulator.
 */
export function verifySessionToken(
  authorization: string | undefined,
  providerAddress: string,
  nowMs: number = Date.now(),
): VerifySessionTokenReturnType {
  const parsed = parseSessionToken(authorization);
  if ("error" in parsed) return fail(parsed.error, parsed.message);
  const { token, rawMessage, signature } = parsed;
  if (token.provider.toLowerCase() !== providerAddress.toLowerCase()) {
    return fail("wrong-provider", "session token is for different provider");
  }
  if (token.tokenId === EPHEMERAL_TOKEN_ID) {
    if (token.expiresAt === 0)
      return fail("ephemeral-no-expiry", "ephemeral token must have an expiration time");
    if (token.expiresAt - token.timestamp > EPHEMERAL_TOKEN_MAX_DURATION_MS) {
      return fail("ephemeral-too-long", "ephemeral token duration cannot exceed 24 hours");
    }
  }
  if (token.expiresAt > 0 && Math.floor(nowMs / 1000) > Math.floor(token.expiresAt / 1000)) {
    return fail("expired", "session token expired");
  }
  let recovered: string;
  try {
    const digest = keccak256(toUtf8Bytes(rawMessage));
    const sig = getBytes(signature);
    if (sig.length !== 65) return fail("bad-signature", "invalid signature length");
    recovered = recoverAddress(hashMessage(getBytes(digest)), signature);
  } catch {
    return fail("bad-signature", "invalid signature format");
  }
  let claimed: string;
  try {
    claimed = getAddress(token.address);
  } catch {
    return fail("malformed", "invalid address in session token");
  }
  if (recovered !== claimed) {
    return fail("signer-mismatch", "signature verification failed: address mismatch");
  }
  return { ok: true, user: claimed, token };
}

export type CreateSessionAuthorizationParameters = {
  provider: string;
  /** ms; default now. */
  timestamp?: number | undefined;
  /** ms; default timestamp + 24 h (0 = never, persistent tokens only). */
  expiresAt?: number | undefined;
  nonce?: string | undefined;
  generation?: number | undefined;
  /** Default 255 (ephemeral). */
  tokenId?: number | undefined;
  /** Put this address in the token instead of the signer's (to forge a mismatch). */
  address?: string | undefined;
};

/**
 * Builds an `Authorization` header value exactly as the SDK does (`base.js` generateSessionToken +
 * getHeader), for tests that need crafted (expired, foreign, revoked) tokens.
 *
 * @example
 * const auth = createSessionAuthorization(userWallet, { provider, expiresAt: Date.now() - 1000 });
 */
export function createSessionAuthorization(
  signer: { address: string; signMessageSync(message: Uint8Array | string): string },
  params: CreateSessionAuthorizationParameters,
): string {
  const timestamp = params.timestamp ?? Date.now();
  const token: SessionToken = {
    address: params.address ?? signer.address,
    provider: params.provider,
    timestamp,
    expiresAt: params.expiresAt ?? timestamp + EPHEMERAL_TOKEN_MAX_DURATION_MS,
    nonce: params.nonce ?? `${timestamp}-devnet`.padEnd(32, "0"),
    generation: params.generation ?? 0,
    tokenId: params.tokenId ?? EPHEMERAL_TOKEN_ID,
  };
  const rawMessage = JSON.stringify(token);
  const signature = signer.signMessageSync(getBytes(keccak256(toUtf8Bytes(rawMessage))));
  return `Bearer app-sk-${Buffer.from(`${rawMessage}|${signature}`).toString("base64")}`;
}
