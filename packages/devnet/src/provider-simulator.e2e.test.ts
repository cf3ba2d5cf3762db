import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createZGComputeNetworkBroker, type ZGComputeNetworkBroker } from "@0gfoundation/0g-compute-ts-sdk";
import { Contract, Wallet } from "ethers";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { createJsonRpcProvider } from "./create-json-rpc-provider.js";
import { loadZeroGArtifacts } from "./sdk-artifacts.js";
import { createSessionAuthorization } from "./session-token.js";
import { DEVNET_GAS_PRICE } from "./start-chain.js";
import { type Devnet, startDevnet } from "./start-devnet.js";
import type { ProviderSimulatorHandle } from "./start-provider-simulator.js";

const qvl = createRequire(import.meta.url)("@phala/dcap-qvl") as typeof import("@phala/dcap-qvl");

// The SDK's typings resolve ethers' CommonJS .d.ts and ours the ESM one: the same runtime class but
// distinct TS types (#private), hence this cast. At runtime both sides load ethers' ESM build.
type SdkSigner = Parameters<typeof createZGComputeNetworkBroker>[0];

const sha256 = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");

let devnet: Devnet;
let broker: ZGComputeNetworkBroker;
let wallet: Wallet;
let primary: ProviderSimulatorHandle; // llama-3-8b #1: happy paths, settlement
let faulty: ProviderSimulatorHandle; // llama-3-8b #2: fault injection

/** The real 0G SDK broker of `signer` on the devnet's contracts. */
function brokerFor(signer: Wallet): Promise<ZGComputeNetworkBroker> {
  return createZGComputeNetworkBroker(
    signer as unknown as SdkSigner,
    devnet.contracts.ledger,
    devnet.contracts.inference,
    devnet.contracts.fineTuning,
    DEVNET_GAS_PRICE,
  );
}

async function chat(p: ProviderSimulatorHandle, body: object, headers?: Record<string, string>) {
  const h = headers ?? (await broker.inference.getRequestHeaders(p.address));
  const raw = JSON.stringify(body);
  const res = await fetch(`${p.url}/v1/proxy/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...h },
    body: raw,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, raw, bytes, chatId: res.headers.get("ZG-Res-Key") };
}

async function signatureOf(p: ProviderSimulatorHandle, chatId: string) {
  const res = await fetch(`${p.url}/v1/proxy/signature/${chatId}?model=${p.models[0]}`);
  return { status: res.status, body: (await res.json()) as { text: string; signature: string } };
}

beforeAll(async () => {
  vi.useRealTimers();
  devnet = await startDevnet();
  [primary, faulty] = devnet.providers as [ProviderSimulatorHandle, ProviderSimulatorHandle];
  wallet = new Wallet(devnet.userPrivateKey, createJsonRpcProvider(devnet.rpcUrl, devnet.chainId));
  broker = await brokerFor(wallet);
  await broker.ledger.addLedger(20);
  await broker.inference.acknowledgeProviderSigner(faulty.address, DEVNET_GAS_PRICE);
  // Fund the faulty provider's sub-account up front so getRequestHeaders' inline top-up stays idle.
  await broker.ledger.transferFund(faulty.address, "inference", 2n * 10n ** 18n, DEVNET_GAS_PRICE);
});

afterAll(async () => {
  await devnet?.close();
});

describe("(a) the real SDK drives the devnet end to end", () => {
  test("listService → acknowledge → metadata → headers → POST → processResponse", async () => {
    const services = await broker.inference.listService();
    expect(services.map((s) => s.provider)).toEqual(
      expect.arrayContaining(devnet.providers.map((p) => p.address)),
    );
    const svc = services.find((s) => s.provider === primary.address)!;
    expect({
      url: svc.url,
      model: svc.model,
      verifiability: svc.verifiability,
      teeSignerAddress: svc.teeSignerAddress,
      teeSignerAcknowledged: svc.teeSignerAcknowledged,
    }).toEqual({
      url: primary.url,
      model: "llama-3-8b",
      verifiability: "TeeML",
      teeSignerAddress: primary.teeAddress,
      teeSignerAcknowledged: true,
    });
    await broker.inference.acknowledgeProviderSigner(primary.address, DEVNET_GAS_PRICE);
    const { endpoint, model } = await broker.inference.getServiceMetadata(primary.address);
    expect(endpoint).toBe(`${primary.url}/v1/proxy`);
    expect(model).toBe("llama-3-8b");
    const headers = await broker.inference.getRequestHeaders(primary.address);
    expect(headers.Authorization).toMatch(/^Bearer app-sk-/);
    const body = JSON.stringify({ model, messages: [{ role: "user", content: "What is 0G?" }] });
    const res = await fetch(`${endpoint}/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body,
    });
    expect(res.status).toBe(200);
    const chatId = res.headers.get("ZG-Res-Key");
    expect(chatId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const raw = Buffer.from(await res.arrayBuffer());
    const json = JSON.parse(raw.toString("utf8"));
    expect(json).toMatchObject({ id: chatId, object: "chat.completion", model: "llama-3-8b" });
    expect(json.choices[0].message.content).toBe("llama-3-8b (0G devnet) heard: What is 0G?");
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + json.usage.completion_tokens);

    expect(await broker.inference.processResponse(primary.address, chatId!, JSON.stringify(json.usage))).toBe(
      true,
    );

    const sig = await signatureOf(primary, chatId!);
    expect(sig.body).toMatchObject({
      text: `${sha256(body)}:${sha256(raw)}`,
      signing_address: primary.teeAddress,
      signing_algo: "ecdsa",
    });
    const fee =
      BigInt(json.usage.prompt_tokens) * primary.inputPrice +
      BigInt(json.usage.completion_tokens) * primary.outputPrice;
    expect(primary.unsettledFee(wallet.address)).toBe(fee);
  });

  test("the signer wallet gets a fine-tuning broker (Wallet instanceof check passes across ESM)", () => {
    expect(broker.fineTuning).toBeDefined();
  });

  test("GET /v1/user/:addr/unsettledfee answers the SDK's authenticated query", async () => {
    const headers = await broker.inference.getRequestHeaders(primary.address);
    const res = await fetch(`${primary.url}/v1/user/${wallet.address}/unsettledfee`, {
      headers: { ...headers },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      userAddress: wallet.address,
      unsettledFee: primary.unsettledFee(wallet.address).toString(),
    });
    const other = await fetch(`${primary.url}/v1/user/${Wallet.createRandom().address}/unsettledfee`, {
      headers: { ...headers },
    });
    expect(other.status).toBe(403);
  });

  test("GET /v1/models and an unknown model", async () => {
    const models = await (await fetch(`${primary.url}/v1/models`)).json();
    expect(models).toMatchObject({ object: "list", data: [{ id: "llama-3-8b", object: "model" }] });
    const { res, bytes } = await chat(primary, {
      model: "gpt-4o",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(res.status).toBe(404);
    expect(JSON.parse(bytes.toString())).toMatchObject({
      error: { type: "invalid_request_error", code: "model_not_found", param: "model" },
    });
  });

  test("max_tokens cuts the answer (finish_reason length)", async () => {
    const { res, bytes } = await chat(primary, {
      model: "llama-3-8b",
      max_tokens: 2,
      messages: [{ role: "user", content: "a long question" }],
    });
    expect(res.status).toBe(200);
    const json = JSON.parse(bytes.toString());
    expect(json.usage.completion_tokens).toBe(2);
    expect(json.choices[0].finish_reason).toBe("length");
  });

  test("GET /v1/quote serves a tee-sim dstack attestation the SDK's verifyService accepts", async () => {
    const quote = await (await fetch(`${primary.url}/v1/quote`)).json();
    expect(Object.keys(quote)).toEqual(
      expect.arrayContaining(["quote", "event_log", "report_data", "tcb_info"]),
    );
    const reportData = Buffer.from(quote.report_data, "base64");
    expect(reportData.subarray(0, 42).toString("ascii")).toBe(primary.teeAddress);
    expect(reportData.subarray(42).every((b) => b === 0)).toBe(true);
    expect(quote.tcb_info.app_compose).toContain("llama-3-8b");
    expect(devnet.trust?.rootCaPem).toContain("BEGIN CERTIFICATE");

    const dir = await mkdtemp(join(tmpdir(), "zerog-devnet-verify-"));
    try {
      const result = await broker.inference.verifyService(primary.address, dir, () => {});
      expect(result?.signerVerification?.allMatch).toBe(true);
      expect(result?.composeVerification?.passed).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("(b) streaming", () => {
  test("SSE chunks arrive over time and the whole stream is signed", async () => {
    const headers = await broker.inference.getRequestHeaders(primary.address);
    const body = JSON.stringify({
      model: "llama-3-8b",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "stream me a few words please" }],
    });
    const res = await fetch(`${primary.url}/v1/proxy/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const chatId = res.headers.get("ZG-Res-Key")!;
    const reader = res.body!.getReader();
    const parts: Uint8Array[] = [];
    const arrivals: number[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      arrivals.push(performance.now());
    }
    expect(parts.length).toBeGreaterThan(3);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(20);
    const raw = Buffer.concat(parts);
    const events = raw
      .toString("utf8")
      .split("\n\n")
      .filter((e) => e.length > 0);
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice("data: ".length)));
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chatId)).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe("llama-3-8b (0G devnet) heard: stream me a few words please");
    const usage = chunks.at(-1).usage;
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(chunks.at(-1).choices).toEqual([]);

    expect(await broker.inference.processResponse(primary.address, chatId, JSON.stringify(usage))).toBe(true);
    const sig = await signatureOf(primary, chatId);
    expect(sig.body.text).toBe(`${sha256(body)}:${sha256(raw)}`);
  });
});

describe("(c) authentication", () => {
  const msg = { model: "llama-3-8b", messages: [{ role: "user", content: "hi" }] };
  test.each([
    ["missing", {}],
    ["not app-sk", { Authorization: "Bearer sk-openai-key" }],
    ["garbage", { Authorization: "Bearer app-sk-Zm9vYmFy" }],
  ])("%s header → 401", async (_name, headers) => {
    const { res, bytes } = await chat(primary, msg, headers as Record<string, string>);
    expect(res.status).toBe(401);
    expect(JSON.parse(bytes.toString()).error).toMatch(/Authorization|session token/);
  });

  test("expired token → 401", async () => {
    const t = Date.now() - 3_600_000;
    const auth = createSessionAuthorization(wallet, {
      provider: primary.address,
      timestamp: t,
      expiresAt: t + 1000,
    });
    const { res, bytes } = await chat(primary, msg, { Authorization: auth });
    expect(res.status).toBe(401);
    expect(JSON.parse(bytes.toString()).error).toContain("session token expired");
  });

  test("token for another provider → 401", async () => {
    const auth = createSessionAuthorization(wallet, { provider: faulty.address });
    const { res, bytes } = await chat(primary, msg, { Authorization: auth });
    expect(res.status).toBe(401);
    expect(JSON.parse(bytes.toString()).error).toContain("different provider");
  });

  test("forged signer → 401", async () => {
    const auth = createSessionAuthorization(Wallet.createRandom(), {
      provider: primary.address,
      address: wallet.address,
    });
    const { res, bytes } = await chat(primary, msg, { Authorization: auth });
    expect(res.status).toBe(401);
    expect(JSON.parse(bytes.toString()).error).toContain("address mismatch");
  });

  test("stale generation → 401 (revocation is read from the on-chain account)", async () => {
    const auth = createSessionAuthorization(wallet, { provider: primary.address, generation: 7 });
    const { res, bytes } = await chat(primary, msg, { Authorization: auth });
    expect(res.status).toBe(401);
    expect(JSON.parse(bytes.toString()).error).toContain("future generation");
  });

  test("valid signature but no on-chain sub-account → 401", async () => {
    const stranger = Wallet.createRandom();
    const auth = createSessionAuthorization(stranger, { provider: primary.address });
    const { res, bytes } = await chat(primary, msg, { Authorization: auth });
    expect(res.status).toBe(401);
    expect(JSON.parse(bytes.toString()).error).toContain("account not exist");
  });

  test("acknowledged sub-account below unsettled + fee + 1 0G reserve → 402, then OK after a top-up", async () => {
    // A second user whose sub-account holds exactly the 1 0G acknowledgeProviderSigner puts in.
    const user2 = new Wallet(devnet.chain.accounts.providers[6]!.privateKey, wallet.provider);
    const broker2 = await brokerFor(user2);
    await broker2.ledger.addLedger(3);
    await broker2.inference.acknowledgeProviderSigner(primary.address, DEVNET_GAS_PRICE);
    const auth = createSessionAuthorization(user2, { provider: primary.address });
    const { res, bytes } = await chat(primary, msg, { Authorization: auth });
    expect(res.status).toBe(402);
    expect(JSON.parse(bytes.toString()).error).toContain("insufficient balance");
    await broker2.ledger.transferFund(primary.address, "inference", 10n ** 18n, DEVNET_GAS_PRICE);
    expect((await chat(primary, msg, { Authorization: auth })).res.status).toBe(200);
  });

  test("unknown chat id → signature 404", async () => {
    const res = await fetch(`${primary.url}/v1/proxy/signature/00000000-0000-0000-0000-000000000000`);
    expect(res.status).toBe(404);
  });
});

describe("(d) faults", () => {
  const msg = { model: "llama-3-8b", messages: [{ role: "user", content: "fault test" }] };
  afterEach(async () => {
    await faulty.setFaults({});
  });

  test("tamperResponse: the SDK still says true, but the body hash differs from the signed one", async () => {
    await faulty.setFaults({ tamperResponse: true });
    const { res, raw, bytes, chatId } = await chat(faulty, msg);
    expect(res.status).toBe(200);
    const json = JSON.parse(bytes.toString());
    expect(await broker.inference.processResponse(faulty.address, chatId!, JSON.stringify(json.usage))).toBe(
      true,
    );
    const [reqHash, resHash] = (await signatureOf(faulty, chatId!)).body.text.split(":");
    expect(reqHash).toBe(sha256(raw));
    expect(resHash).not.toBe(sha256(bytes));
  });

  test("tamperResponse also applies to streams", async () => {
    await faulty.setFaults({ tamperResponse: true });
    const { res, bytes, chatId } = await chat(faulty, { ...msg, stream: true });
    expect(res.status).toBe(200);
    const resHash = (await signatureOf(faulty, chatId!)).body.text.split(":")[1];
    expect(resHash).not.toBe(sha256(bytes));
  });

  test("wrongSigner: processResponse is false", async () => {
    await faulty.setFaults({ wrongSigner: true });
    const { bytes, chatId } = await chat(faulty, msg);
    const json = JSON.parse(bytes.toString());
    expect(await broker.inference.processResponse(faulty.address, chatId!, JSON.stringify(json.usage))).toBe(
      false,
    );
  });

  test("dropSignature: the signature endpoint 404s and processResponse throws", async () => {
    await faulty.setFaults({ dropSignature: true });
    const { res, chatId } = await chat(faulty, msg);
    expect(res.status).toBe(200);
    expect((await signatureOf(faulty, chatId!)).status).toBe(404);
    await expect(broker.inference.processResponse(faulty.address, chatId!)).rejects.toThrow();
  });

  test.each([500, 503])("failStatus %i: OpenAI-style error, nothing billed or signed", async (status) => {
    await faulty.setFaults({ failStatus: status });
    const before = faulty.unsettledFee(wallet.address);
    const { res, bytes, chatId } = await chat(faulty, msg);
    expect(res.status).toBe(status);
    expect(chatId).toBeNull();
    expect(JSON.parse(bytes.toString())).toMatchObject({ error: { type: "server_error" } });
    expect(faulty.unsettledFee(wallet.address)).toBe(before);
  });

  test("forgeQuote: a quote one bit off its signature, same PCK chain, that dcap-qvl refuses", async () => {
    const honest = await (await fetch(`${faulty.url}/v1/quote`)).json();
    await faulty.setFaults({ forgeQuote: true });
    const forged = await (await fetch(`${faulty.url}/v1/quote`)).json();
    const report = await (await fetch(`${faulty.url}/v1/proxy/attestation/report`)).json();
    expect(report.quote).toBe(forged.quote);
    const a = Buffer.from(honest.quote, "hex");
    const b = Buffer.from(forged.quote, "hex");
    const differing = [...a.keys()].filter((i) => a[i] !== b[i]);
    expect(differing).toEqual([636]); // the first byte of the quote's ECDSA signature
    expect({ ...forged, quote: honest.quote }).toEqual(honest);
    const collateral = await qvl.getCollateral(devnet.pccs!.url, b);
    const verifier = qvl.QuoteVerifier.newWithRootCa(Buffer.from(devnet.trust!.rootCaDer));
    const now = Math.floor(Date.now() / 1000);
    expect(verifier.verify(a, collateral, now).status).toBe("UpToDate");
    expect(() => verifier.verify(b, collateral, now)).toThrow(/signature is invalid/i);
  });

  test("latencyMs delays the answer", async () => {
    await faulty.setFaults({ latencyMs: 300 });
    const t = performance.now();
    const { res } = await chat(faulty, msg);
    expect(res.status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
  });

  test("hang bills the request and never answers; the client's timeout fires", async () => {
    await faulty.setFaults({ hang: true });
    const before = faulty.billedRequests().length;
    const headers = { ...(await broker.inference.getRequestHeaders(faulty.address)) };
    const body = { ...msg, messages: [{ role: "user", content: "hang test" }] };
    await expect(
      fetch(`${faulty.url}/v1/proxy/chat/completions`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(300),
      }),
    ).rejects.toThrow(/aborted|timeout/i);
    expect(faulty.stats.hung).toBe(1);
    expect(faulty.billedRequests().slice(before)).toEqual([
      expect.objectContaining({ prompt: "hang test", user: wallet.address, fee: expect.any(BigInt) }),
    ]);
  });

  test("dropConnection bills the request, sends half the body and drops the connection", async () => {
    await faulty.setFaults({ dropConnection: true });
    const before = faulty.billedRequests().length;
    await expect(chat(faulty, msg)).rejects.toThrow(/terminated|closed|socket/i);
    expect(faulty.stats.dropped).toBe(1);
    expect(
      faulty
        .billedRequests()
        .slice(before)
        .map((r) => r.prompt),
    ).toEqual(["fault test"]);
  });

  test("garbage bills the request and answers 200 with bytes that are not JSON, and no signature", async () => {
    await faulty.setFaults({ garbage: true });
    const { res, bytes, chatId } = await chat(faulty, msg);
    expect(res.status).toBe(200);
    expect(() => JSON.parse(bytes.toString())).toThrow();
    const sig = await fetch(`${faulty.url}/v1/proxy/signature/${chatId}?model=${faulty.models[0]}`);
    expect(sig.status).toBe(404);
    expect(faulty.stats.garbled).toBe(1);
  });

  test("faultRate applies the chat faults to that fraction of requests only", async () => {
    await faulty.setFaults({ failStatus: 503, faultRate: 0.5 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat(faulty, msg)).res.status);
    expect(statuses.sort()).toEqual([200, 200, 503, 503]);
  });

  test("down refuses connections; clearing it brings the provider back on the same URL", async () => {
    const headers = { ...(await broker.inference.getRequestHeaders(faulty.address)) };
    await faulty.setFaults({ down: true });
    await expect(chat(faulty, msg, headers)).rejects.toThrow(/fetch failed/);
    await faulty.setFaults({});
    const { res } = await chat(faulty, msg, headers);
    expect(res.status).toBe(200);
  });
});

describe("(e) fee settlement", () => {
  test("settle() pays the provider from the user's sub-account via settleFeesWithTEE", async () => {
    const due = primary.unsettledFee(wallet.address);
    expect(due).toBeGreaterThan(0n);
    const inference = new Contract(
      devnet.contracts.inference,
      loadZeroGArtifacts().inference.abi,
      devnet.chain.provider,
    );
    const accountBefore = await inference.getFunction("getAccount")(wallet.address, primary.address);
    const providerBefore = await devnet.chain.provider.getBalance(primary.address);

    const dueAll = primary.unsettledRequests().reduce((sum, r) => sum + r.fee, 0n); // two users by now
    const result = await primary.settle();
    expect(result.outcomes.every((o) => o.status === "SUCCESS" && o.unsettledAmount === 0n)).toBe(true);
    expect(result.outcomes.find((o) => o.user === wallet.address)?.totalFee).toBe(due);
    const receipt = await devnet.chain.provider.getTransactionReceipt(result.txHash!);
    const gas = receipt!.gasUsed * receipt!.gasPrice;
    const providerAfter = await devnet.chain.provider.getBalance(primary.address);
    expect(providerAfter - providerBefore).toBe(dueAll - gas);
    const accountAfter = await inference.getFunction("getAccount")(wallet.address, primary.address);
    expect(accountBefore.balance - accountAfter.balance).toBe(due);
    expect(accountAfter.nonce).toBeGreaterThan(accountBefore.nonce);

    expect(primary.unsettledFee(wallet.address)).toBe(0n);
    const headers = await broker.inference.getRequestHeaders(primary.address);
    const fee = await (
      await fetch(`${primary.url}/v1/user/${wallet.address}/unsettledfee`, { headers: { ...headers } })
    ).json();
    expect(fee.unsettledFee).toBe("0");
    // Nothing left: a second settle is a no-op.
    expect(await primary.settle()).toEqual({ txHash: undefined, outcomes: [] });
  });

  test("a settlement signed by the wrong TEE key is rejected on chain (INVALID_SIGNATURE)", async () => {
    const { settleFees } = await import("./settle-fees.js");
    const providerKey = devnet.chain.accounts.providers[0]!.privateKey;
    const result = await settleFees({
      providerWallet: new Wallet(providerKey, devnet.chain.provider),
      teeWallet: new Wallet(Wallet.createRandom().privateKey),
      inference: devnet.contracts.inference,
      chainId: devnet.chainId,
      requests: [
        { chatId: "x", user: wallet.address, inputFee: 1n, outputFee: 1n, fee: 2n, createdAt: Date.now() },
      ],
      nextNonce: () => BigInt(Date.now()) * 10_000_000n,
    });
    expect(result.outcomes).toEqual([
      expect.objectContaining({ status: "INVALID_SIGNATURE", settledChatIds: [] }),
    ]);
    expect(result.txHash).toBeUndefined();
  });
});

describe("a standalone simulator registered with registerProviderService", () => {
  test("settleIntervalMs settles in the background", async () => {
    const { startProviderSimulator } = await import("./start-provider-simulator.js");
    const { registerProviderService } = await import("./register-provider-service.js");
    const account = devnet.chain.accounts.providers[3]!;
    const sim = await startProviderSimulator({
      models: ["mistral-7b"],
      providerKey: account.privateKey,
      chain: {
        provider: devnet.chain.provider,
        chainId: devnet.chainId,
        inference: devnet.contracts.inference,
      },
      settleIntervalMs: 150,
    });
    try {
      const reg = await registerProviderService(devnet.chain, devnet.contracts, {
        providerKey: account.privateKey,
        url: sim.url,
        model: "mistral-7b",
        teeSignerAddress: sim.teeAddress,
      });
      expect(reg).toEqual({ provider: sim.address, created: true });
      // Re-registering updates the service without staking again.
      expect(
        (
          await registerProviderService(devnet.chain, devnet.contracts, {
            providerKey: account.privateKey,
            url: sim.url,
            model: "mistral-7b",
            teeSignerAddress: sim.teeAddress,
          })
        ).created,
      ).toBe(false);
      await broker.inference.acknowledgeProviderSigner(sim.address, DEVNET_GAS_PRICE);
      const { res } = await chat(sim, {
        model: "mistral-7b",
        messages: [{ role: "user", content: "pay me" }],
      });
      expect(res.status).toBe(200);
      expect(sim.unsettledFee(wallet.address)).toBeGreaterThan(0n);
      await vi.waitFor(() => expect(sim.stats.settlementTxs).toBe(1), { timeout: 5_000, interval: 50 });
      expect(sim.unsettledFee(wallet.address)).toBe(0n);
      expect(sim.stats.settledFee).toBeGreaterThan(0n);
    } finally {
      await sim.close();
    }
  });
});
