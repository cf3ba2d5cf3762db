import { FailureReason } from "@chaoschain/zerog-core";
import type { SigningKey } from "ethers";
import { BackendError } from "../../backend.js";
import { responseBody } from "../../response-body.js";
import { providerHttpError } from "../provider-http.js";
import {
  cancelTaskDigest,
  createTaskDigest,
  datasetUploadDigest,
  isTaskId,
  modelDownloadDigest,
  signDigest,
} from "./request-signatures.js";

/** A provider task as `GET /v1/user/:user/task/:id` serves it (the fields the bridge reads). */
export interface ProviderTask {
  id: string;
  progress: string;
  /** Decimal neuron, set by the provider's setup from the token count. */
  fee: string;
  nonce: string;
  datasetHash: string;
  preTrainedModelHash: string;
}

/** What `createTask` sends (the SDK's `Task` body). */
export interface NewTask {
  datasetHash: string;
  trainingParams: string;
  preTrainedModelHash: string;
  nonce: bigint;
  /** Queue behind other users' tasks instead of being refused (`GET /v1/task/pending` > 0). */
  wait: boolean;
}

export interface ProviderClientOptions {
  /** The provider's service URL (on chain). */
  url: string;
  /** The wallet's address, as it appears in the routes. */
  user: string;
  /** The wallet's key: signs uploads, tasks, cancellations and downloads. Never sent or logged. */
  key: SigningKey;
  /** Per call, ms (downloads: per chunk read). */
  timeoutMs: number;
}

/** The provider refused to cancel: its task is past SetUp (HTTP 409). */
export class NotCancellableError extends BackendError {
  override name = "NotCancellableError";
}

const jsonLimit = 1024 * 1024;
const logLimit = 64 * 1024;
const now = () => Math.floor(Date.now() / 1000);

/**
 * The 0G fine-tuning provider protocol (`0g-serving-broker` api/fine-tuning, as SDK 0.9.0 speaks it),
 * spoken directly: the SDK's `createTask` prompts on stdin when other tasks are queued, and its ESM build
 * cannot upload a dataset under Node. Every signature covers the full 32-byte digest. Failures are
 * {@link BackendError}s: network errors and 5xx/429 retryable, 4xx not (with the provider's message).
 */
export class FineTuningProviderClient {
  readonly url: string;
  readonly #o: ProviderClientOptions;

  constructor(options: ProviderClientOptions) {
    this.#o = options;
    this.url = options.url.replace(/\/+$/, "");
  }

  #userPath(suffix: string): string {
    return `${this.url}/v1/user/${this.#o.user}${suffix}`;
  }

  /** `POST /v1/user/:user/dataset` (multipart `file`, `signature`, `timestamp`) → the dataset hash. */
  async uploadDataset(bytes: Uint8Array, fileName: string, signal: AbortSignal): Promise<string> {
    const timestamp = now();
    const form = new FormData();
    form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>]), fileName);
    form.append("signature", signDigest(this.#o.key, datasetUploadDigest(this.#o.user, timestamp)));
    form.append("timestamp", String(timestamp));
    const body = await this.#json(this.#userPath("/dataset"), { method: "POST", body: form }, signal);
    const hash = (body as { datasetHash?: unknown }).datasetHash;
    if (typeof hash !== "string" || !/^0x[0-9a-fA-F]{1,128}$/.test(hash)) {
      throw new BackendError(FailureReason.PROVIDER_ERROR, `provider ${this.url} returned no dataset hash`);
    }
    return hash;
  }

  /** `GET /v1/task/pending`: tasks of all users waiting for or in training. */
  async pendingTasks(signal: AbortSignal): Promise<number> {
    const text = await this.#text(`${this.url}/v1/task/pending`, {}, signal, 64);
    const n = Number(text.trim());
    if (!Number.isInteger(n) || n < 0)
      throw new BackendError(
        FailureReason.PROVIDER_ERROR,
        `provider ${this.url} answered a malformed queue length`,
      );
    return n;
  }

  /** `POST /v1/user/:user/task` with the user's signature over (user, nonce, datasetHash) → the task id. */
  async createTask(task: NewTask, signal: AbortSignal): Promise<string> {
    const body = {
      userAddress: this.#o.user,
      datasetHash: task.datasetHash,
      trainingParams: task.trainingParams,
      preTrainedModelHash: task.preTrainedModelHash,
      fee: "0",
      nonce: task.nonce.toString(),
      signature: signDigest(this.#o.key, createTaskDigest(this.#o.user, task.nonce, task.datasetHash)),
      wait: task.wait,
    };
    const answer = await this.#json(this.#userPath("/task"), jsonPost(body), signal);
    const id = (answer as { id?: unknown }).id;
    if (!isTaskId(id))
      throw new BackendError(FailureReason.PROVIDER_ERROR, `provider ${this.url} returned no task id`);
    return id;
  }

  async getTask(id: string, signal: AbortSignal): Promise<ProviderTask> {
    return toTask(await this.#json(this.#userPath(`/task/${taskPath(id)}`), {}, signal), this.url);
  }

  /** The user's tasks, newest first. */
  async listTasks(signal: AbortSignal): Promise<ProviderTask[]> {
    const list = await this.#json(this.#userPath("/task"), {}, signal);
    if (!Array.isArray(list))
      throw new BackendError(
        FailureReason.PROVIDER_ERROR,
        `provider ${this.url} answered a malformed task list`,
      );
    return list.slice(0, 1000).map((t) => toTask(t, this.url));
  }

  /** `GET /v1/model/<name>`: the root hash of one of the provider's own ("customized") base models. */
  async customizedModelHash(name: string, signal: AbortSignal): Promise<string> {
    const model = await this.#json(`${this.url}/v1/model/${encodeURIComponent(name)}`, {}, signal);
    const hash = (model as { hash?: unknown }).hash;
    if (typeof hash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(hash)) {
      throw new BackendError(
        FailureReason.PROVIDER_ERROR,
        `provider ${this.url} gave no root hash for base model ${name}`,
      );
    }
    return hash;
  }

  /** The last 64 KiB of the task's log (`text/plain`). */
  async taskLog(id: string, signal: AbortSignal): Promise<string> {
    return this.#text(this.#userPath(`/task/${taskPath(id)}/log`), {}, signal, logLimit, true);
  }

  /** `POST …/task/:id/cancel`; throws {@link NotCancellableError} when the task is past SetUp. */
  async cancelTask(id: string, signal: AbortSignal): Promise<void> {
    const body = { signature: signDigest(this.#o.key, cancelTaskDigest(id)) };
    try {
      await this.#text(this.#userPath(`/task/${taskPath(id)}/cancel`), jsonPost(body), signal, 4096);
    } catch (err) {
      if (err instanceof BackendError && / answered 409:/.test(err.message)) {
        throw new NotCancellableError(FailureReason.PROVIDER_ERROR, err.message, { cause: err });
      }
      throw err;
    }
  }

  /**
   * `POST …/task/:id/lora` (signed, with a fresh timestamp): streams the encrypted model to `sink`, at most
   * `maxBytes`. Each chunk must arrive within the call timeout.
   */
  async downloadModel(
    id: string,
    maxBytes: number,
    sink: (chunk: Uint8Array) => Promise<void> | void,
    signal: AbortSignal,
  ): Promise<number> {
    const timestamp = now();
    const body = { signature: signDigest(this.#o.key, modelDownloadDigest(id, timestamp)), timestamp };
    const url = this.#userPath(`/task/${taskPath(id)}/lora`);
    const { res, body: chunks, idle } = await this.#fetch(url, jsonPost(body), signal);
    try {
      if (!res.ok) throw providerHttpError(url, res.status, await readCapped(chunks, 2048, false));
      const declared = Number(res.headers.get("content-length") ?? Number.NaN);
      if (declared > maxBytes) {
        // Not read at all: hang up rather than leave the provider's body pending on the connection.
        await res.body?.cancel().catch(() => {});
        throw tooLarge(url, maxBytes);
      }
      let size = 0;
      for await (const chunk of chunks) {
        idle.reset();
        size += chunk.length;
        if (size > maxBytes) throw tooLarge(url, maxBytes);
        await sink(chunk);
      }
      return size;
    } catch (err) {
      throw mapAbort(err, url, signal);
    } finally {
      idle.clear();
    }
  }

  async #json(url: string, init: RequestInit, signal: AbortSignal): Promise<unknown> {
    const text = await this.#text(url, init, signal, jsonLimit);
    try {
      return JSON.parse(text);
    } catch {
      throw new BackendError(
        FailureReason.PROVIDER_ERROR,
        `provider ${url} answered something that is not JSON`,
      );
    }
  }

  async #text(
    url: string,
    init: RequestInit,
    signal: AbortSignal,
    limit: number,
    tail = false,
  ): Promise<string> {
    const { res, body: chunks, idle } = await this.#fetch(url, init, signal);
    try {
      const body = await readCapped(chunks, res.ok ? limit : 2048, tail);
      if (!res.ok) throw providerHttpError(url, res.status, body);
      return new TextDecoder().decode(body);
    } catch (err) {
      throw mapAbort(err, url, signal);
    } finally {
      idle.clear();
    }
  }

  /**
   * fetch with the caller's signal and an idle timer that aborts a call making no progress; read the body
   * through `body`, which either abort ends.
   */
  async #fetch(url: string, init: RequestInit, signal: AbortSignal) {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const idle = {
      reset: () => {
        clearTimeout(timer);
        timer = setTimeout(
          () => controller.abort(new DOMException(`no answer in ${this.#o.timeoutMs} ms`, "TimeoutError")),
          this.#o.timeoutMs,
        );
      },
      clear: () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      },
    };
    idle.reset();
    try {
      if (signal.aborted) throw signal.reason;
      const res = await fetch(url, { ...init, signal: controller.signal, redirect: "error" });
      return { res, body: responseBody(res, controller.signal), idle };
    } catch (err) {
      idle.clear();
      throw mapAbort(err, url, signal);
    }
  }
}

function jsonPost(body: unknown): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

function taskPath(id: string): string {
  if (!isTaskId(id)) throw new RangeError(`not a task id: ${JSON.stringify(String(id).slice(0, 64))}`);
  return id;
}

function toTask(value: unknown, url: string): ProviderTask {
  const t = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v.slice(0, 256) : "");
  if (!isTaskId(t.id) || typeof t.progress !== "string") {
    throw new BackendError(FailureReason.PROVIDER_ERROR, `provider ${url} answered a malformed task`);
  }
  return {
    id: t.id,
    progress: str(t.progress),
    fee: /^\d{1,78}$/.test(str(t.fee)) ? str(t.fee) : "0",
    nonce: str(t.nonce),
    datasetHash: str(t.datasetHash),
    preTrainedModelHash: str(t.preTrainedModelHash),
  };
}

function tooLarge(url: string, maxBytes: number): BackendError {
  return new BackendError(
    FailureReason.PROVIDER_ERROR,
    `provider ${url} serves a model larger than the bridge's limit of ${maxBytes} bytes`,
  );
}

/** The caller's abort passes through as its reason; a timeout or network failure is `provider_unavailable`. */
function mapAbort(err: unknown, url: string, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason;
  if (err instanceof BackendError) return err;
  const timedOut = err instanceof DOMException && err.name === "TimeoutError";
  return new BackendError(
    FailureReason.PROVIDER_UNAVAILABLE,
    timedOut ? `provider ${url} did not answer in time` : `provider ${url} is unreachable`,
    { cause: err, retryable: true },
  );
}

/** Reads at most `limit` bytes of a body (the first, or with `tail` the last), then drops the rest. */
async function readCapped(
  body: AsyncIterable<Uint8Array>,
  limit: number,
  tail: boolean,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (tail) {
      while (size - (chunks[0]?.length ?? 0) >= limit) size -= chunks.shift()?.length ?? 0;
    } else if (size >= limit) break;
  }
  const all = Buffer.concat(chunks, size);
  return tail ? all.subarray(Math.max(0, all.length - limit)) : all.subarray(0, limit);
}
