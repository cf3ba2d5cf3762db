/** A TEE response signature as served by `GET /v1/proxy/signature/:chatId` ([Go] signing.go ChatSignature). */
export type ChatSignature = {
  text: string;
  signature: string;
  signing_address: string;
  signing_algo: "ecdsa";
};

/** In-memory chat-signature cache with expiry, like the provider's `svcCache` (`chat:<id>` keys). */
export class SignatureStore {
  readonly #entries = new Map<string, { value: ChatSignature; expiresAt: number }>();
  readonly #ttlMs: number;

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  set(chatId: string, value: ChatSignature, now: number = Date.now()): void {
    this.prune(now);
    this.#entries.set(chatId, { value, expiresAt: now + this.#ttlMs });
  }

  get(chatId: string, now: number = Date.now()): ChatSignature | undefined {
    const e = this.#entries.get(chatId);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.#entries.delete(chatId);
      return undefined;
    }
    return e.value;
  }

  prune(now: number = Date.now()): void {
    for (const [k, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(k);
  }

  get size(): number {
    return this.#entries.size;
  }
}
