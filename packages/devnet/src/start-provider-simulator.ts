import { createHash, randomBytes, randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { TDX_QUOTE_OFFSETS } from "@chaoschain/zerog-tee-sim";
import { Contract, getAddress, isCallException, type Provider, Wallet } from "ethers";
import { DevnetError, errorMessage } from "./errors.js";
import {
  BodyTooLargeError,
  CORS_HEADERS,
  delay,
  listenLocal,
  readBody,
  sendBrokerError,
  sendJson,
  sendOpenAiError,
  startListening,
  stopListening,
} from "./http-utils.js";
import { type ChatMessage, generateCompletion, type MockCompletion } from "./mock-model.js";
import {
  type AttestationSource,
  devnetAppCompose,
  placeholderAttestation,
} from "./placeholder-attestation.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";
import { EPHEMERAL_TOKEN_ID, type SessionToken, verifySessionToken } from "./session-token.js";
import { type SettleFeesReturnType, settleFees, type UnsettledRequest } from "./settle-fees.js";
import { type ChatSignature, SignatureStore } from "./signature-store.js";

/** Faults a test can inject. `setFaults` replaces the whole set (`setFaults({})` clears all). */
export type ProviderFaults = {
  /** Stop listening: new connections are refused, open ones are dropped. */
  down?: boolean | undefined;
  /** Extra delay before a chat completion is handled. */
  latencyMs?: number | undefined;
  /** Answer chat completions (after auth) with this HTTP status and an OpenAI-style error. */
  failStatus?: number | undefined;
  /** Sign the real body, then send a body with one character of the answer changed. */
  tamperResponse?: boolean | undefined;
  /** Sign responses with a random key instead of the registered TEE signer. */
  wrongSigner?: boolean | undefined;
  /** `GET /v1/proxy/signature/:chatId` answers 404. */
  dropSignature?: boolean | undefined;
  /** Bill a chat completion (the model ran) and never answer; the client's timeout must fire. */
  hang?: boolean | undefined;
  /** Bill a chat completion, send its status line and half its body, then drop the connection. */
  dropConnection?: boolean | undefined;
  /** Bill a chat completion and answer 200 with bytes that are not JSON (and store no signature). */
  garbage?: boolean | undefined;
  /**
   * Apply `failStatus`, `hang`, `dropConnection` and `garbage` to this fraction of the chat completions
   * that pass authentication, evenly spread (0.25: every fourth). Default 1: all of them.
   */
  faultRate?: number | undefined;
  /**
   * Serve a forged TDX quote at `/v1/quote` and `/v1/proxy/attestation/report`: one bit of the quote's
   * ECDSA signature flipped, everything else (PCK chain, FMSPC, report data, event log) as before, so
   * collateral is found and the quote fails verification (`quote_signature_invalid`).
   */
  forgeQuote?: boolean | undefined;
};

/** A chat completion the provider billed: what `settle()` will charge, and what it was for. */
export type BilledRequest = {
  chatId: string;
  user: string;
  /** The content of the request's last user message. */
  prompt: string;
  fee: bigint;
  /** ms since the epoch. */
  at: number;
};

/** On-chain context: enables account/acknowledgement/revocation/balance checks and settlement. */
export type ProviderSimulatorChain = {
  provider: Provider;
  chainId: number;
  /** InferenceServing (proxy) address. */
  inference: string;
};

export type StartProviderSimulatorParameters = {
  /** Served model ids; the first is the default (and the one registered on chain). */
  models: readonly [string, ...string[]];
  /** Private key of the provider's on-chain account. Default: a random key. */
  providerKey?: string | undefined;
  /** Private key of the TEE signer. Default: a random key. */
  teeKey?: string | undefined;
  /** Neuron per prompt token (must match the on-chain service). Default 1e9. */
  inputPrice?: bigint | undefined;
  /** Neuron per completion token. Default 2e9. */
  outputPrice?: bigint | undefined;
  chain?: ProviderSimulatorChain | undefined;
  /** Port on 127.0.0.1; 0 (default) picks one. */
  port?: number | undefined;
  /** Delay between streamed tokens. Default 5 ms. */
  tokenDelayMs?: number | undefined;
  /** How long a response signature stays fetchable. Default 5 min. */
  signatureTtlMs?: number | undefined;
  /** Body of `GET /v1/quote`. Default: {@link placeholderAttestation}. */
  attestation?: AttestationSource | undefined;
  faults?: ProviderFaults | undefined;
  /** Settle automatically every N ms (needs `chain`). Default: only on `settle()`. */
  settleIntervalMs?: number | undefined;
  /** Locked balance the provider keeps in reserve per user. Default 1 0G ([Go] MinimumLockedBalance). */
  minLockedBalance?: bigint | undefined;
};

export type ProviderSimulatorStats = {
  chatRequests: number;
  completed: number;
  streamed: number;
  rejectedAuth: number;
  rejectedBalance: number;
  injectedFailures: number;
  signaturesServed: number;
  settlementTxs: number;
  settledFee: bigint;
  /** Chat completions billed and left unanswered (`hang`), cut off (`dropConnection`), answered with garbage. */
  hung: number;
  dropped: number;
  garbled: number;
};

export type ProviderSimulatorHandle = {
  /** `http://127.0.0.1:<port>` (the on-chain service URL; the SDK appends `/v1/proxy`). */
  url: string;
  /** The provider's on-chain account. */
  address: string;
  /** The TEE signer address (registered as `teeSignerAddress`). */
  teeAddress: string;
  models: readonly string[];
  /** The dstack app compose this provider attests (`sha256` of it is its docker digest). */
  appCompose: string;
  inputPrice: bigint;
  outputPrice: bigint;
  readonly faults: Readonly<ProviderFaults>;
  /** Replaces the fault set; resolves once `down` has taken effect. */
  setFaults(faults: ProviderFaults): Promise<void>;
  /** Live counters. */
  readonly stats: Readonly<ProviderSimulatorStats>;
  /** Sum of the user's billed, not yet settled fees (neuron). */
  unsettledFee(user: string): bigint;
  unsettledRequests(): readonly UnsettledRequest[];
  /** Every chat completion billed so far (settled or not), in order: a request billed twice shows twice. */
  billedRequests(): readonly BilledRequest[];
  /** Settles all unsettled fees on chain via `settleFeesWithTEE` (needs `chain`). */
  settle(): Promise<SettleFeesReturnType>;
  close(): Promise<void>;
};

export type StartProviderSimulatorReturnType = ProviderSimulatorHandle;

type AccountView = {
  balance: bigint;
  pendingRefund: bigint;
  acknowledged: boolean;
  generation: bigint;
  revokedBitmap: bigint;
};

type ChatRequestBody = {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
};

const ONE_0G = 10n ** 18n;

function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** The content of the last user message (text, or its parts as JSON). */
function lastUserPrompt(messages: unknown): string {
  const list = Array.isArray(messages) ? (messages as Array<{ role?: unknown; content?: unknown }>) : [];
  const last = [...list].reverse().find((m) => m?.role === "user") ?? list.at(-1);
  const content = last?.content;
  return typeof content === "string" ? content : JSON.stringify(content ?? "");
}

/** Changes the first letter or digit of `s` (keeps JSON valid, changes the bytes). */
function tamperText(s: string): string {
  const i = s.search(/[A-Za-z0-9]/);
  if (i < 0) return `${s}!`;
  const c = s[i] ?? "a";
  const swapped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
  const repl = swapped !== c ? swapped : c === "0" ? "1" : "0";
  return s.slice(0, i) + repl + s.slice(i + 1);
}

/**
 * Starts an HTTP server on 127.0.0.1 that speaks the 0G TeeML inference provider protocol
 * (`0g-serving-broker` api/inference): session-token auth, OpenAI chat completions (plain and SSE)
 * with `ZG-Res-Key`, TEE response signatures, `/v1/quote`, `/v1/user/:addr/unsettledfee`,
 * `/v1/models`, and on-chain fee settlement with `settleFeesWithTEE`. The model output is simulated.
 *
 * @example
 * const sim = await startProviderSimulator({ models: ["llama-3-8b"], chain: { provider, chainId, inference } });
 * // register sim.url / sim.teeAddress on chain with registerProviderService(...)
 * await sim.close();
 */
export async function startProviderSimulator(
  params: StartProviderSimulatorParameters,
): Promise<ProviderSimulatorHandle> {
  const models = [...params.models];
  const defaultModel = models[0];
  if (!defaultModel) {
    throw new DevnetError("A provider simulator needs at least one model", {
      code: "SIMULATOR_START_FAILED",
    });
  }
  const chain = params.chain;
  const providerWallet = new Wallet(
    params.providerKey ?? Wallet.createRandom().privateKey,
    chain?.provider ?? null,
  );
  const teeWallet = new Wallet(params.teeKey ?? Wallet.createRandom().privateKey);
  const rogueWallet = Wallet.createRandom();
  const address = providerWallet.address;
  const teeAddress = teeWallet.address;
  const inputPrice = params.inputPrice ?? 1_000_000_000n;
  const outputPrice = params.outputPrice ?? 2_000_000_000n;
  const tokenDelayMs = params.tokenDelayMs ?? 5;
  const minLocked = params.minLockedBalance ?? ONE_0G;
  const appCompose = devnetAppCompose(defaultModel);
  const attestationSource: AttestationSource =
    params.attestation ?? ((tee: string) => placeholderAttestation(tee, appCompose));
  const attestation = async (tee: string) => {
    const body = await attestationSource(tee, { models, appCompose });
    return faults.forgeQuote ? forgedQuote(body) : body;
  };
  const signatures = new SignatureStore(params.signatureTtlMs ?? 5 * 60 * 1000);
  const unsettled: UnsettledRequest[] = [];
  const streams = new AbortController();
  // Every request waiting on a delay listens to it: no listener limit.
  setMaxListeners(0, streams.signal);
  let faults: ProviderFaults = { ...(params.faults ?? {}) };
  const stats: ProviderSimulatorStats = {
    chatRequests: 0,
    completed: 0,
    streamed: 0,
    rejectedAuth: 0,
    rejectedBalance: 0,
    injectedFailures: 0,
    signaturesServed: 0,
    settlementTxs: 0,
    settledFee: 0n,
    hung: 0,
    dropped: 0,
    garbled: 0,
  };
  const billed: BilledRequest[] = [];
  let faultable = 0;
  /** Whether the chat faults apply to the next request (every 1/faultRate-th one). */
  const faultHits = (): boolean => {
    const rate = faults.faultRate ?? 1;
    faultable++;
    return Math.floor(faultable * rate) > Math.floor((faultable - 1) * rate);
  };
  const inferenceRead = chain
    ? new Contract(chain.inference, loadZeroGArtifacts().inference.abi, chain.provider)
    : undefined;

  const unsettledFee = (user: string): bigint => {
    const u = user.toLowerCase();
    return unsettled.reduce((s, r) => (r.user.toLowerCase() === u ? s + r.fee : s), 0n);
  };

  /** Reads the user's sub-account; undefined when it does not exist (the contract reverts). */
  const readAccount = async (user: string): Promise<AccountView | undefined> => {
    if (!inferenceRead) return undefined;
    try {
      const a = await inferenceRead.getFunction("getAccount")(user, address);
      return {
        balance: BigInt(a.balance),
        pendingRefund: BigInt(a.pendingRefund),
        acknowledged: Boolean(a.acknowledged),
        generation: BigInt(a.generation),
        revokedBitmap: BigInt(a.revokedBitmap),
      };
    } catch (err) {
      if (isCallException(err)) return undefined;
      throw err;
    }
  };

  /** Generation / bitmap revocation ([Go] validateTokenRevocation); a missing account passes. */
  const revocationError = (token: SessionToken, account: AccountView | undefined): string | undefined => {
    if (!account) return undefined;
    const gen = BigInt(token.generation);
    if (gen < account.generation) return "session token has been revoked (generation expired)";
    if (gen > account.generation) return "invalid session token (future generation)";
    if (token.tokenId !== EPHEMERAL_TOKEN_ID && (account.revokedBitmap >> BigInt(token.tokenId)) & 1n) {
      return "session token has been revoked";
    }
    return undefined;
  };

  /** Full session validation; sends 401 and returns undefined on failure. */
  const authenticate = async (
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<{ user: string; account: AccountView | undefined } | undefined> => {
    const v = verifySessionToken(req.headers.authorization, address);
    if (!v.ok) {
      stats.rejectedAuth++;
      sendBrokerError(res, 401, `Provider: validate session: ${v.message}`);
      return undefined;
    }
    const account = await readAccount(v.user);
    const revoked = revocationError(v.token, account);
    if (revoked) {
      stats.rejectedAuth++;
      sendBrokerError(res, 401, `Provider: validate session: ${revoked}`);
      return undefined;
    }
    return { user: v.user, account };
  };

  const signText = (text: string): ChatSignature => {
    const signer = faults.wrongSigner ? rogueWallet : teeWallet;
    return {
      text,
      signature: signer.signMessageSync(text),
      signing_address: signer.address,
      signing_algo: "ecdsa",
    };
  };

  const handleChat = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.chatRequests++;
    // The whole request first, as a proxy in front of a model does: a client that goes away while the
    // model runs (the latency) is still billed for it.
    const raw = await readBody(req);
    if (faults.latencyMs) await delay(faults.latencyMs, streams.signal);
    const auth = await authenticate(req, res);
    if (!auth) return;
    if (chain) {
      if (!auth.account) {
        stats.rejectedAuth++;
        sendBrokerError(res, 401, "Provider: get account from contract, account not exist");
        return;
      }
      if (!auth.account.acknowledged) {
        stats.rejectedAuth++;
        sendBrokerError(
          res,
          401,
          "Provider: user not acknowledge the provider, please use acknowledgeProviderSigner function in sdk first",
        );
        return;
      }
    }
    const faulty = faultHits();
    if (faulty && faults.failStatus) {
      stats.injectedFailures++;
      const status = faults.failStatus;
      sendOpenAiError(
        res,
        status,
        `simulated upstream failure (HTTP ${status})`,
        status >= 500 ? "server_error" : "invalid_request_error",
        "simulated_fault",
      );
      return;
    }
    let body: ChatRequestBody;
    try {
      body = JSON.parse(raw.toString("utf8")) as ChatRequestBody;
    } catch {
      sendOpenAiError(res, 400, "request body is not valid JSON", "invalid_request_error", "invalid_json");
      return;
    }
    if (!body || typeof body !== "object" || !Array.isArray(body.messages) || body.messages.length === 0) {
      sendOpenAiError(
        res,
        400,
        "'messages' must be a non-empty array",
        "invalid_request_error",
        null,
        "messages",
      );
      return;
    }
    const model = body.model === undefined ? defaultModel : body.model;
    if (typeof model !== "string" || !models.includes(model)) {
      sendOpenAiError(
        res,
        404,
        `The model '${String(model)}' does not exist or is not served by this provider (serves: ${models.join(", ")})`,
        "invalid_request_error",
        "model_not_found",
        "model",
      );
      return;
    }
    const maxTokensRaw = body.max_completion_tokens ?? body.max_tokens;
    const maxTokens = typeof maxTokensRaw === "number" ? maxTokensRaw : undefined;
    const completion = generateCompletion(model, body.messages as ChatMessage[], maxTokens);
    const inputFee = BigInt(completion.promptTokens) * inputPrice;
    const outputFee = BigInt(completion.completionTokens) * outputPrice;
    const fee = inputFee + outputFee;
    if (chain && auth.account) {
      const locked = auth.account.balance - auth.account.pendingRefund;
      const required = fee + unsettledFee(auth.user) + minLocked;
      if (locked < required) {
        stats.rejectedBalance++;
        sendBrokerError(
          res,
          402,
          `Provider: insufficient balance: your locked balance is ${locked} neuron, but the required minimum is ${required} neuron (minimum reserve ${minLocked} + unsettled fees ${unsettledFee(auth.user)} + current request fee ${fee})`,
        );
        return;
      }
    }
    const chatId = randomUUID();
    const created = Math.floor(Date.now() / 1000);
    const bill = () => {
      unsettled.push({ chatId, user: auth.user, inputFee, outputFee, fee, createdAt: Date.now() });
      billed.push({ chatId, user: auth.user, prompt: lastUserPrompt(body.messages), fee, at: Date.now() });
    };
    if (faulty && (faults.hang || faults.dropConnection || faults.garbage)) {
      bill();
      if (faults.hang) {
        stats.hung++;
        await new Promise<void>((resolve) => {
          if (streams.signal.aborted || req.socket.destroyed) return resolve();
          streams.signal.addEventListener("abort", () => resolve(), { once: true });
          req.socket.once("close", () => resolve());
        });
        res.destroy();
      } else if (faults.dropConnection) {
        stats.dropped++;
        const full = Buffer.from(
          JSON.stringify({ id: chatId, object: "chat.completion", model, choices: [] }),
        );
        res.writeHead(200, {
          ...CORS_HEADERS,
          "Content-Type": "application/json; charset=utf-8",
          "Content-Length": String(full.length),
          "ZG-Res-Key": chatId,
        });
        res.write(full.subarray(0, full.length >> 1), () => res.destroy());
      } else {
        stats.garbled++;
        const junk = Buffer.concat([Buffer.from("\u0000<html>upstream "), randomBytes(48)]);
        res.writeHead(200, {
          ...CORS_HEADERS,
          "Content-Type": "application/json",
          "Content-Length": String(junk.length),
          "ZG-Res-Key": chatId,
        });
        res.end(junk);
      }
      return;
    }
    if (body.stream === true) {
      const includeUsage = body.stream_options?.include_usage === true;
      await streamCompletion(res, raw, { chatId, created, model, completion, includeUsage, bill });
    } else {
      sendCompletion(res, raw, { chatId, created, model, completion, bill });
    }
  };

  type CompletionCtx = {
    chatId: string;
    created: number;
    model: string;
    completion: MockCompletion;
    bill: () => void;
  };

  const sendCompletion = (res: ServerResponse, raw: Buffer, ctx: CompletionCtx): void => {
    const { completion } = ctx;
    const make = (content: string) => ({
      id: ctx.chatId,
      object: "chat.completion",
      created: ctx.created,
      model: ctx.model,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content },
          logprobs: null,
          finish_reason: completion.finishReason,
        },
      ],
      usage: {
        prompt_tokens: completion.promptTokens,
        completion_tokens: completion.completionTokens,
        total_tokens: completion.promptTokens + completion.completionTokens,
      },
    });
    const signedBytes = Buffer.from(JSON.stringify(make(completion.text)));
    const sentBytes = faults.tamperResponse
      ? Buffer.from(JSON.stringify(make(tamperText(completion.text))))
      : signedBytes;
    signatures.set(ctx.chatId, signText(`${sha256Hex(raw)}:${sha256Hex(signedBytes)}`));
    ctx.bill();
    res.writeHead(200, {
      ...CORS_HEADERS,
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": String(sentBytes.length),
      "ZG-Res-Key": ctx.chatId,
    });
    res.end(sentBytes);
    stats.completed++;
  };

  const streamCompletion = async (
    res: ServerResponse,
    raw: Buffer,
    ctx: CompletionCtx & { includeUsage: boolean },
  ): Promise<void> => {
    const { completion } = ctx;
    const base = { id: ctx.chatId, object: "chat.completion.chunk", created: ctx.created, model: ctx.model };
    const usageNull = ctx.includeUsage ? { usage: null } : {};
    const chunk = (delta: object, finish: string | null) => ({
      ...base,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...usageNull,
    });
    const frame = (o: object) => `data: ${JSON.stringify(o)}\n\n`;
    const build = (tamper: boolean): string[] => {
      const events = [frame(chunk({ role: "assistant", content: "" }, null))];
      completion.tokens.forEach((tok, i) => {
        events.push(frame(chunk({ content: tamper && i === 0 ? tamperText(tok) : tok }, null)));
      });
      events.push(frame(chunk({}, completion.finishReason)));
      if (ctx.includeUsage) {
        events.push(
          frame({
            ...base,
            choices: [],
            usage: {
              prompt_tokens: completion.promptTokens,
              completion_tokens: completion.completionTokens,
              total_tokens: completion.promptTokens + completion.completionTokens,
            },
          }),
        );
      }
      events.push("data: [DONE]\n\n");
      return events;
    };
    const signedEvents = build(false);
    const sentEvents = faults.tamperResponse ? build(true) : signedEvents;
    // The provider signs the whole stream as sent; the bytes are known up front here, so the
    // signature is stored before the last event goes out and a prompt fetch never races it.
    signatures.set(
      ctx.chatId,
      signText(`${sha256Hex(raw)}:${sha256Hex(Buffer.from(signedEvents.join("")))}`),
    );
    ctx.bill();
    res.writeHead(200, {
      ...CORS_HEADERS,
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
      "ZG-Res-Key": ctx.chatId,
    });
    stats.streamed++;
    for (const [i, ev] of sentEvents.entries()) {
      if (res.destroyed || streams.signal.aborted) return;
      res.write(ev);
      if (i > 0 && i < sentEvents.length - 1) await delay(tokenDelayMs, streams.signal);
    }
    res.end();
    stats.completed++;
  };

  const handleSignature = (res: ServerResponse, chatId: string, model: string | null): void => {
    if (faults.dropSignature) {
      sendBrokerError(res, 404, `Provider: get chat signature: chat ${chatId} not found`);
      return;
    }
    if (model !== null && model !== "" && !models.includes(model)) {
      sendBrokerError(res, 404, `Provider: model ${model} is not served by this provider`);
      return;
    }
    const sig = signatures.get(chatId);
    if (!sig) {
      sendBrokerError(res, 404, `Provider: get chat signature: chat ${chatId} not found or expired`);
      return;
    }
    stats.signaturesServed++;
    sendJson(res, 200, sig);
  };

  const handleUnsettledFee = async (req: IncomingMessage, res: ServerResponse, user: string) => {
    const auth = await authenticate(req, res);
    if (!auth) return;
    if (auth.user.toLowerCase() !== user.toLowerCase()) {
      sendJson(res, 403, { error: "you can only query your own unsettled fee" });
      return;
    }
    sendJson(res, 200, { userAddress: auth.user, unsettledFee: unsettledFee(auth.user).toString() });
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname.replace(/\/+$/, "");
    const method = req.method ?? "GET";
    if (method === "OPTIONS") {
      res.writeHead(204, CORS_HEADERS);
      res.end();
      return;
    }
    if (method === "POST" && path === "/v1/proxy/chat/completions") return handleChat(req, res);
    if (method === "GET") {
      const sig = /^\/v1\/proxy\/signature\/([^/]+)$/.exec(path);
      if (sig?.[1]) return handleSignature(res, decodeURIComponent(sig[1]), url.searchParams.get("model"));
      const fee = /^\/v1\/user\/([^/]+)\/unsettledfee$/.exec(path);
      if (fee?.[1]) return handleUnsettledFee(req, res, decodeURIComponent(fee[1]));
      if (path === "/v1/quote") {
        sendJson(res, 200, await attestation(teeAddress));
        return;
      }
      if (path === "/v1/proxy/attestation/report") {
        const m = url.searchParams.get("model");
        if (m && !models.includes(m)) {
          sendBrokerError(res, 404, `Provider: model ${m} is not served by this provider`);
          return;
        }
        const body = (await attestation(teeAddress)) as Record<string, unknown>;
        sendJson(res, 200, { ...body, signing_address: teeAddress, signing_algo: "ecdsa" });
        return;
      }
      if (path === "/v1/models" || path === "/v1/proxy/models") {
        sendJson(res, 200, {
          object: "list",
          data: models.map((id) => ({ id, object: "model", created: 0, owned_by: "0g-devnet-simulator" })),
        });
        return;
      }
    }
    sendBrokerError(res, 404, `no route for ${method} ${path}`);
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof BodyTooLargeError) {
        if (!res.headersSent)
          sendOpenAiError(res, 413, err.message, "invalid_request_error", "body_too_large");
        return;
      }
      if (!res.headersSent) sendBrokerError(res, 500, "Internal Server Error");
      else res.destroy();
      process.emitWarning(`zerog-devnet provider simulator ${address}: ${errorMessage(err)}`);
    });
  });
  server.keepAliveTimeout = 5_000;

  const port = await startListening(server, params.port ?? 0, "provider simulator");
  if (faults.down) await stopListening(server);

  let nonceFloor = 0n;
  const nextNonce = () => {
    const n = BigInt(Math.floor(Date.now() / 1000)) * 10_000_000n;
    nonceFloor = n > nonceFloor ? n : nonceFloor + 1n;
    return nonceFloor;
  };
  let settleChain: Promise<unknown> = Promise.resolve();
  const settle = (): Promise<SettleFeesReturnType> => {
    const run = async (): Promise<SettleFeesReturnType> => {
      if (!chain) {
        throw new DevnetError("settle() needs the simulator to be started with `chain`", {
          code: "SETTLEMENT_FAILED",
        });
      }
      const result = await settleFees({
        providerWallet,
        teeWallet,
        inference: chain.inference,
        chainId: chain.chainId,
        requests: [...unsettled],
        nextNonce,
      });
      if (result.txHash) stats.settlementTxs++;
      const drop = new Set<string>();
      for (const o of result.outcomes) {
        for (const id of o.settledChatIds) drop.add(id);
        if (o.status === "SUCCESS" || o.status === "PARTIAL")
          stats.settledFee += o.totalFee - o.unsettledAmount;
        if (o.status === "NO_TEE_SIGNER") {
          for (const r of unsettled) if (r.user === o.user) drop.add(r.chatId);
        }
      }
      for (let i = unsettled.length - 1; i >= 0; i--) {
        const r = unsettled[i];
        if (r && drop.has(r.chatId)) unsettled.splice(i, 1);
      }
      return result;
    };
    const p = settleChain.then(run, run);
    settleChain = p.catch(() => undefined);
    return p;
  };

  const timer =
    chain && params.settleIntervalMs
      ? setInterval(() => {
          if (unsettled.length > 0) settle().catch((err: unknown) => process.emitWarning(errorMessage(err)));
        }, params.settleIntervalMs)
      : undefined;
  timer?.unref();

  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    address: getAddress(address),
    teeAddress,
    models,
    appCompose,
    inputPrice,
    outputPrice,
    get faults() {
      return faults;
    },
    async setFaults(next: ProviderFaults) {
      const wasDown = Boolean(faults.down);
      faults = { ...next };
      if (closed) return;
      if (faults.down && !wasDown) await stopListening(server);
      if (!faults.down && wasDown) await listenLocal(server, port);
    },
    stats,
    unsettledFee,
    unsettledRequests: () => [...unsettled],
    billedRequests: () => [...billed],
    settle,
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      streams.abort();
      await stopListening(server);
      await settleChain;
    },
  };
}

/** Offset of the quote's own ECDSA signature (after the signed header + TD report and its u32 length). */
const QUOTE_SIGNATURE_OFFSET = TDX_QUOTE_OFFSETS.signedEnd + 4;

/** The attestation body with one bit of its quote's signature flipped (a quote no TDX produced). */
function forgedQuote(body: object): object {
  const quote = (body as { quote?: unknown }).quote;
  if (typeof quote !== "string" || quote.length < 2 * (QUOTE_SIGNATURE_OFFSET + 1)) return body;
  const at = 2 * QUOTE_SIGNATURE_OFFSET;
  const flipped = (Number.parseInt(quote.slice(at, at + 2), 16) ^ 1).toString(16).padStart(2, "0");
  return { ...body, quote: `${quote.slice(0, at)}${flipped}${quote.slice(at + 2)}` };
}
