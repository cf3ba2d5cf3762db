import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { getAddress, isAddress, keccak256, type Provider, Wallet } from "ethers";
import { DevnetError, errorMessage } from "./errors.js";
import { FineTuningContract } from "./fine-tuning-contract.js";
import { DatasetError, parseDataset } from "./fine-tuning-dataset.js";
import { DEFAULT_FINE_TUNING_MODELS, type FineTuningModel, modelListing } from "./fine-tuning-models.js";
import {
  DEFAULT_FINE_TUNING_TIMING,
  type FineTuningFaults,
  FineTuningPipeline,
  type FineTuningStats,
  type FineTuningTiming,
} from "./fine-tuning-pipeline.js";
import {
  cancelTaskDigest,
  datasetUploadDigest,
  loraDownloadDigest,
  recoverDigestSigner,
  sameUser,
  UUID_RE,
} from "./fine-tuning-signatures.js";
import {
  CANCELLABLE_STATUSES,
  type FineTuningStatus,
  type FineTuningTaskJson,
  PENDING_STATUSES,
  setProgress,
  type TaskDelivery,
  type TaskRecord,
  taskJson,
} from "./fine-tuning-task.js";
import {
  BodyTooLargeError,
  CORS_HEADERS,
  listenLocal,
  readBody,
  sendJson,
  startListening,
  stopListening,
} from "./http-utils.js";
import {
  type AttestationSource,
  devnetFineTuningAppCompose,
  placeholderAttestation,
} from "./placeholder-attestation.js";
import {
  DEFAULT_FINE_TUNING_QUOTA,
  type FineTuningQuota,
  type FineTuningServiceRecord,
} from "./register-fine-tuning-service.js";
import { zipStore } from "./zip-store.js";

export type FineTuningProviderChain = {
  provider: Provider;
  chainId: number;
  /** FineTuningServing (proxy) address. */
  fineTuning: string;
};

export type StartFineTuningProviderSimulatorParameters = {
  chain: FineTuningProviderChain;
  /** Private key of the provider's funded on-chain account (sends addDeliverable / settleFees). */
  providerKey: string;
  /** Private key of the TEE signer. Default: a random key. */
  teeKey?: string | undefined;
  /** Default {@link DEFAULT_FINE_TUNING_MODELS}. */
  models?: readonly FineTuningModel[] | undefined;
  /** Neuron per token per epoch. Default 1e9. */
  pricePerToken?: bigint | undefined;
  quota?: FineTuningQuota | undefined;
  /** Port on 127.0.0.1; 0 (default) picks one. */
  port?: number | undefined;
  /** Body of `GET /v1/quote`. Default: {@link placeholderAttestation}. */
  attestation?: AttestationSource | undefined;
  timing?: Partial<FineTuningTiming> | undefined;
  faults?: FineTuningFaults | undefined;
  /**
   * Datasets the provider can read by hash without an upload: the devnet's stand-in for 0G Storage
   * (and the Go broker's `datasetLocalPaths`). Keys are 0x root hashes.
   */
  localDatasets?: Record<string, Uint8Array> | undefined;
  /** Largest dataset upload. Default 100 MiB (the SDK's and the broker's default). */
  maxDatasetBytes?: number | undefined;
  /** Dataset bytes kept per user. Default 256 MiB. */
  maxDatasetBytesPerUser?: number | undefined;
  /** Dataset bytes kept over all users. Default 1 GiB. */
  maxDatasetBytesTotal?: number | undefined;
  /** Tasks kept; beyond it the oldest finished or failed ones are forgotten. Default 10 000. */
  maxStoredTasks?: number | undefined;
  /** Tasks that may wait in the queue ([Go] maxTaskQueueSize). Default 5. */
  maxQueuedTasks?: number | undefined;
};

/** A task as the provider holds it, for tests: the JSON the API serves, its log and the delivery. */
export type FineTuningTaskView = FineTuningTaskJson & {
  history: readonly FineTuningStatus[];
  log: readonly string[];
  delivery: Readonly<TaskDelivery> | undefined;
};

export type FineTuningProviderSimulatorHandle = {
  /** `http://127.0.0.1:<port>` (the on-chain service URL). */
  url: string;
  /** The provider's on-chain account. */
  address: string;
  /** The TEE signer (registered as `teeSignerAddress`; signs model tags and settlements). */
  teeAddress: string;
  models: readonly FineTuningModel[];
  pricePerToken: bigint;
  /** The on-chain service record to register (see `registerFineTuningService`). */
  service: Readonly<FineTuningServiceRecord>;
  /** The dstack app compose this provider attests (`sha256` of it is its docker digest). */
  appCompose: string;
  readonly faults: Readonly<FineTuningFaults>;
  /** Replaces the fault set; resolves once `down` has taken effect. */
  setFaults(faults: FineTuningFaults): Promise<void>;
  readonly timing: Readonly<FineTuningTiming>;
  setTiming(timing: Partial<FineTuningTiming>): void;
  readonly stats: Readonly<FineTuningStats>;
  tasks(): FineTuningTaskView[];
  task(id: string): FineTuningTaskView | undefined;
  /** Resolves with the task once its progress is one of `statuses` (rejects after `timeoutMs`, default 30 s). */
  waitForStatus(
    id: string,
    statuses: FineTuningStatus | readonly FineTuningStatus[],
    options?: { timeoutMs?: number | undefined },
  ): Promise<FineTuningTaskView>;
  /**
   * Simulates a provider restart: stops the HTTP server and the task services (the stage in flight is
   * abandoned), keeps the database (tasks, datasets, trained and encrypted models), listens again on the
   * same port and resumes in-flight tasks from their previous state.
   */
  restart(): Promise<void>;
  close(): Promise<void>;
};

export type StartFineTuningProviderSimulatorReturnType = FineTuningProviderSimulatorHandle;

const SIGNATURE_VALIDITY_S = 300;
const JSON_BODY_LIMIT = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Starts an HTTP server on 127.0.0.1 that speaks the 0G fine-tuning provider protocol
 * (`0g-serving-broker` api/fine-tuning, as SDK 0.9.0's `broker.fineTuning` calls it): signed dataset
 * upload, task creation/listing/cancellation/logs, `/v1/task/pending`, `/v1/quote`, the model catalogue,
 * and the signed download of the encrypted LoRA. Behind it the provider's task services run for real
 * on the devnet chain: setup checks (fee from the token count, balance, nonce, acknowledgement, task
 * signature → the user's public key), a deterministic "training" ({@link trainLoraAdapter}), AES-GCM
 * encryption with a TEE tag signature, `addDeliverable`, and after the user's `acknowledgeDeliverable`
 * an EIP-712 `settleFees` that publishes the ECIES-encrypted key and pays the provider.
 *
 * @example
 * const sim = await startFineTuningProviderSimulator({ chain, providerKey });
 * await registerFineTuningService(chain, contracts, { providerKey, ...sim.service });
 */
export async function startFineTuningProviderSimulator(
  params: StartFineTuningProviderSimulatorParameters,
): Promise<FineTuningProviderSimulatorHandle> {
  const { chain } = params;
  const models = [...(params.models ?? DEFAULT_FINE_TUNING_MODELS)];
  if (models.length === 0)
    throw new DevnetError("A fine-tuning provider needs at least one model", {
      code: "SIMULATOR_START_FAILED",
    });
  const providerWallet = new Wallet(params.providerKey, chain.provider);
  const teeWallet = new Wallet(params.teeKey ?? Wallet.createRandom().privateKey);
  const rogueWallet = new Wallet(Wallet.createRandom().privateKey);
  const pricePerToken = params.pricePerToken ?? 1_000_000_000n;
  const maxDatasetBytes = params.maxDatasetBytes ?? 100 * 1024 * 1024;
  const maxPerUser = params.maxDatasetBytesPerUser ?? 256 * 1024 * 1024;
  const maxQueued = params.maxQueuedTasks ?? 5;
  const maxTotal = params.maxDatasetBytesTotal ?? 1024 * 1024 * 1024;
  const maxStoredTasks = params.maxStoredTasks ?? 10_000;
  const appCompose = devnetFineTuningAppCompose(models.map((m) => m.name));
  const attestationSource: AttestationSource =
    params.attestation ?? ((tee: string) => placeholderAttestation(tee, appCompose));
  const contract = new FineTuningContract(chain.provider, chain.fineTuning, providerWallet);
  let faults: FineTuningFaults = { ...(params.faults ?? {}) };
  let timing: FineTuningTiming = { ...DEFAULT_FINE_TUNING_TIMING, ...params.timing };
  const stats: FineTuningStats = {
    datasetsUploaded: 0,
    tasksCreated: 0,
    tasksCancelled: 0,
    rejectedAuth: 0,
    deliveries: 0,
    loraDownloads: 0,
    settlementTxs: 0,
    settledFee: 0n,
    occupancyTxs: 0,
  };

  // The provider's database: survives restart().
  const tasks = new Map<string, TaskRecord>();
  const artifacts = new Map<string, Uint8Array>();
  const datasets = new Map<string, Map<string, Uint8Array>>();
  const localDatasets = new Map(
    Object.entries(params.localDatasets ?? {}).map(([h, b]) => [h.toLowerCase(), b] as const),
  );
  const lookupDataset = (user: string, hash: string) =>
    datasets.get(user.toLowerCase())?.get(hash.toLowerCase()) ?? localDatasets.get(hash.toLowerCase());

  const waiters = new Set<(t: TaskRecord) => void>();
  const changed = (t: TaskRecord) => {
    for (const w of [...waiters]) w(t);
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) sendError(res, err.status, err.message);
      else if (err instanceof BodyTooLargeError) sendError(res, 413, err.message);
      else {
        sendJson(res, 500, { error: "Internal Server Error" });
        process.emitWarning(`zerog-devnet fine-tuning provider: ${errorMessage(err)}`);
      }
    });
  });
  server.keepAliveTimeout = 5_000;
  const port = await startListening(server, params.port ?? 0, "fine-tuning provider simulator");
  const url = `http://127.0.0.1:${port}`;
  const service: FineTuningServiceRecord = {
    url,
    quota: params.quota ?? DEFAULT_FINE_TUNING_QUOTA,
    pricePerToken,
    occupied: false,
    models: models.map((m) => m.name),
    teeSignerAddress: teeWallet.address,
  };
  const newPipeline = () =>
    new FineTuningPipeline({
      tasks,
      artifacts,
      dataset: lookupDataset,
      models,
      pricePerToken,
      contract,
      chainId: chain.chainId,
      fineTuning: chain.fineTuning,
      teeWallet,
      rogueWallet,
      service,
      timing: () => timing,
      faults: () => faults,
      stats,
      changed,
    });
  let pipeline = newPipeline();
  pipeline.start();
  if (faults.down) await stopListening(server);

  // ---- routes -------------------------------------------------------------------------------------

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = u.pathname.replace(/\/+$/, "");
    const method = req.method ?? "GET";
    if (method === "OPTIONS") {
      res.writeHead(204, CORS_HEADERS);
      res.end();
      return;
    }
    if (faults.failStatus && path !== "/v1/quote") {
      sendError(res, faults.failStatus, `simulated failure (HTTP ${faults.failStatus})`);
      return;
    }
    const seg = path.split("/").slice(1).map(decodeSegment);
    if (seg[0] !== "v1") throw new HttpError(404, `no route for ${method} ${path}`);
    if (seg[1] === "user" && seg.length >= 4) {
      const user = seg[2] ?? "";
      if (seg[3] === "dataset" && seg.length === 4 && method === "POST") return uploadDataset(req, res, user);
      if (seg[3] === "task") {
        if (seg.length === 4 && method === "POST") return createTask(req, res, user);
        if (seg.length === 4 && method === "GET") return listTasks(res, user, u.searchParams);
        const id = seg[4] ?? "";
        if (seg.length === 5 && method === "GET") {
          sendJson(res, 200, taskJson(ownedTask(id, user)));
          return;
        }
        if (seg.length === 6 && seg[5] === "log" && method === "GET")
          return sendText(res, 200, `${ownedTask(id, user).log.join("\n")}\n`);
        if (seg.length === 6 && seg[5] === "cancel" && method === "POST")
          return cancelTask(req, res, user, id);
        if (seg.length === 6 && seg[5] === "lora" && method === "POST")
          return downloadLora(req, res, user, id);
      }
    }
    if (method === "GET") {
      if (path === "/v1/task/pending") return sendText(res, 200, String(pendingCount()));
      if (path === "/v1/quote") {
        const body = await attestationSource(teeWallet.address, { models: service.models, appCompose });
        return sendText(res, 200, JSON.stringify(body));
      }
      if (path === "/v1/model") {
        sendJson(res, 200, customized().map(modelListing));
        return;
      }
      if (seg[1] === "model" && seg.length === 4 && seg[2] === "desc") return modelUsage(res, seg[3] ?? "");
      if (seg[1] === "model" && seg.length === 3) {
        sendJson(res, 200, modelListing(customizedModel(seg[2] ?? "")));
        return;
      }
    }
    throw new HttpError(404, `no route for ${method} ${path}`);
  }

  async function uploadDataset(req: IncomingMessage, res: ServerResponse, user: string): Promise<void> {
    if (!isAddress(user)) throw new HttpError(400, "upload dataset: invalid user address");
    const contentType = req.headers["content-type"] ?? "";
    if (!/^multipart\/form-data;/i.test(contentType))
      throw new HttpError(400, "upload dataset: expected multipart/form-data");
    const raw = await readBody(req, maxDatasetBytes + 64 * 1024);
    let form: FormData;
    try {
      form = await new Response(raw as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": contentType },
      }).formData();
    } catch {
      throw new HttpError(400, "upload dataset: malformed multipart body");
    }
    const file = form.get("file");
    const signature = form.get("signature");
    const timestamp = form.get("timestamp");
    if (!(file instanceof Blob)) throw new HttpError(400, "upload dataset: file is required");
    if (typeof signature !== "string" || signature === "")
      throw new HttpError(400, "upload dataset: signature is required");
    if (typeof timestamp !== "string" || timestamp === "")
      throw new HttpError(400, "upload dataset: timestamp is required");
    checkFresh(timestamp, "upload dataset");
    if (!recoverDigestSigner(datasetUploadDigest(user, timestamp), signature, user)) {
      stats.rejectedAuth++;
      throw new HttpError(401, "upload dataset: invalid signature");
    }
    if (file.size > maxDatasetBytes)
      throw new HttpError(413, `upload dataset: file exceeds the ${maxDatasetBytes}-byte limit`);
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      parseDataset(bytes);
    } catch (err) {
      if (err instanceof DatasetError) throw new HttpError(400, `upload dataset: ${err.message}`);
      throw err;
    }
    const mine = datasets.get(user.toLowerCase()) ?? new Map<string, Uint8Array>();
    const hash = keccak256(bytes);
    let used = 0;
    for (const [h, b] of mine) if (h !== hash) used += b.length;
    if (used + bytes.length > maxPerUser)
      throw new HttpError(400, `upload dataset: storage quota of ${maxPerUser} bytes per user exceeded`);
    let total = 0;
    for (const m of datasets.values()) for (const b of m.values()) total += b.length;
    if (total - (mine.get(hash)?.length ?? 0) + bytes.length > maxTotal)
      throw new HttpError(503, "upload dataset: the provider's dataset storage is full");
    mine.set(hash, bytes);
    datasets.set(user.toLowerCase(), mine);
    stats.datasetsUploaded++;
    sendJson(res, 200, { datasetHash: hash, message: "Dataset uploaded successfully" });
  }

  let creating: Promise<unknown> = Promise.resolve();
  async function createTask(req: IncomingMessage, res: ServerResponse, pathUser: string): Promise<void> {
    const body = await readJsonBody(req, "bind service");
    const str = (key: string): string => {
      const v = body[key];
      if (typeof v !== "string" || v === "") {
        const field = key.charAt(0).toUpperCase() + key.slice(1);
        throw new HttpError(
          400,
          `bind service: Key: 'Task.${field}' Error:Field validation for '${field}' failed on the 'required' tag`,
        );
      }
      return v;
    };
    const task = {
      userAddress: str("userAddress"),
      preTrainedModelHash: str("preTrainedModelHash"),
      datasetHash: str("datasetHash"),
      trainingParams: str("trainingParams"),
      fee: str("fee"),
      nonce: str("nonce"),
      signature: str("signature"),
      wait: body.wait === true,
    };
    if (!isAddress(task.userAddress)) throw new HttpError(400, "bind service: userAddress is not an address");
    if (!sameUser(task.userAddress, pathUser))
      throw new HttpError(400, "bind service: userAddress does not match the user in the path");
    if (!/^\d{1,78}$/.test(task.nonce))
      throw new HttpError(400, "bind service: nonce must be a decimal integer");
    if (!/^\d{1,78}$/.test(task.fee)) throw new HttpError(400, "bind service: fee must be a decimal integer");
    const model = models.find((m) => m.hash.toLowerCase() === task.preTrainedModelHash.toLowerCase());
    if (!model) throw new HttpError(400, "register service: unsupported model");
    // One creation at a time ([Go] taskMutex): the queue checks below must see each other's tasks.
    const run = async () => {
      const account = await contract.account(task.userAddress);
      if (!account)
        throw new HttpError(
          400,
          "register service: get account in contract: the user has no account with this provider",
        );
      if (!account.acknowledged)
        throw new HttpError(
          400,
          "register service: provider signer should be acknowledged before creating a task",
        );
      for (const t of tasks.values()) {
        if (sameUser(t.userAddress, task.userAddress) && t.progress !== "Finished" && t.progress !== "Failed")
          throw new HttpError(
            400,
            "register service: cannot create a new task while there is an unfinished task",
          );
      }
      const pending = pendingCount();
      if (pending > maxQueued) throw new HttpError(400, "register service: task queue is full");
      if (pending > 0 && !task.wait)
        throw new HttpError(
          400,
          "register service: cannot create a new task while there are in-progress tasks",
        );
      const now = new Date();
      const record: TaskRecord = {
        id: randomUUID(),
        createdAt: now,
        updatedAt: now,
        userAddress: task.userAddress,
        preTrainedModelHash: task.preTrainedModelHash,
        datasetHash: task.datasetHash,
        trainingParams: task.trainingParams,
        fee: task.fee,
        nonce: task.nonce,
        signature: task.signature,
        progress: "Init",
        history: ["Init"],
        deliverTime: 0,
        modelType: model.predefined ? 0 : 1,
        log: pending > 0 ? [`There are ${pending} tasks in the queue ahead.`] : [],
        settlementRetries: 0,
      };
      tasks.set(record.id, record);
      forgetOldTasks();
      stats.tasksCreated++;
      return record;
    };
    const p = creating.then(run, run);
    creating = p.catch(() => undefined);
    const record = await p;
    sendJson(res, 201, { id: record.id });
    pipeline.kick();
  }

  function listTasks(res: ServerResponse, user: string, query: URLSearchParams): void {
    const mine = [...tasks.values()].filter((t) => sameUser(t.userAddress, user));
    const asc = query.get("order")?.toLowerCase() === "asc";
    mine.sort((a, b) => (asc ? 1 : -1) * (a.createdAt.getTime() - b.createdAt.getTime()));
    const list = query.get("latest") === "true" ? mine.slice(0, 1) : mine;
    sendJson(res, 200, list.map(taskJson));
  }

  async function cancelTask(
    req: IncomingMessage,
    res: ServerResponse,
    user: string,
    id: string,
  ): Promise<void> {
    const { signature } = await signedTaskRequest(req, id, "cancel task");
    if (!recoverDigestSigner(cancelTaskDigest(id), signature, user)) {
      stats.rejectedAuth++;
      throw new HttpError(401, "cancel task: signature verification failed: address mismatch");
    }
    const t = ownedTask(id, user);
    if (!CANCELLABLE_STATUSES.includes(t.progress))
      throw new HttpError(409, `cancel task: task cannot be cancelled in its current state (${t.progress})`);
    setProgress(t, "Failed", `Task ${id} cancelled by the user`);
    stats.tasksCancelled++;
    changed(t);
    pipeline.kick();
    sendText(res, 200, `task ${id} cancelled`);
  }

  async function downloadLora(
    req: IncomingMessage,
    res: ServerResponse,
    user: string,
    id: string,
  ): Promise<void> {
    const { signature, timestamp } = await signedTaskRequest(req, id, "download lora");
    if ((typeof timestamp !== "number" && typeof timestamp !== "string") || timestamp === "")
      throw new HttpError(400, "download lora: timestamp is required");
    checkFresh(String(timestamp), "download lora");
    if (!recoverDigestSigner(loraDownloadDigest(id, String(timestamp)), signature, user)) {
      stats.rejectedAuth++;
      throw new HttpError(401, "download lora: invalid signature");
    }
    const t = ownedTask(id, user);
    if (!t.delivery || !["Delivered", "UserAcknowledged", "Finished"].includes(t.progress))
      throw new HttpError(404, `download lora: no encrypted LoRA for task ${id} (progress ${t.progress})`);
    let bytes = Buffer.from(t.delivery.encrypted);
    if (faults.corruptDelivery) {
      bytes = Buffer.from(bytes);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
    }
    stats.loraDownloads++;
    res.writeHead(200, {
      ...CORS_HEADERS,
      "Content-Type": "application/octet-stream",
      "Content-Length": String(bytes.length),
      "Content-Disposition": `attachment; filename="lora_model_${id}.zip"`,
    });
    res.end(bytes);
  }

  function modelUsage(res: ServerResponse, name: string): void {
    const m = customizedModel(name);
    const zip = zipStore([
      { name: `${m.name}/` },
      {
        name: `${m.name}/README.md`,
        data: Buffer.from(
          `# ${m.name}\n\n${m.description ?? ""}\n\nDataset: JSONL, one object per line: ` +
            '{"instruction", "input", "output"}, {"messages": [...]} or {"text"}.\n' +
            "Training parameters: num_train_epochs, lora_r, lora_alpha, learning_rate.\n",
        ),
      },
    ]);
    res.writeHead(200, {
      ...CORS_HEADERS,
      "Content-Type": "application/zip",
      "Content-Length": String(zip.length),
      "Content-Disposition": `attachment; filename="${m.name}.zip"`,
    });
    res.end(zip);
  }

  // ---- helpers ------------------------------------------------------------------------------------

  function customized(): FineTuningModel[] {
    return models.filter((m) => !m.predefined);
  }

  function customizedModel(nameOrHash: string): FineTuningModel {
    const key = nameOrHash.toLowerCase();
    const m = customized().find((x) => x.name === nameOrHash || x.hash.toLowerCase() === key);
    if (!m) throw new HttpError(404, `get customized model: Model ${nameOrHash} not found`);
    return m;
  }

  function ownedTask(id: string, user: string): TaskRecord {
    if (!UUID_RE.test(id)) throw new HttpError(400, "parse task id: invalid UUID");
    const t = tasks.get(id.toLowerCase());
    if (!t) throw new HttpError(404, `get task: task ${id} not found`);
    if (!sameUser(t.userAddress, user))
      throw new HttpError(403, `get task: task ${id} belongs to another user`);
    return t;
  }

  /** Keeps the database bounded: drops the oldest finished or failed tasks beyond `maxStoredTasks`. */
  function forgetOldTasks(): void {
    for (const [id, t] of tasks) {
      if (tasks.size <= maxStoredTasks) return;
      if (t.progress === "Finished" || t.progress === "Failed") {
        tasks.delete(id);
        artifacts.delete(id);
      }
    }
  }

  function pendingCount(): number {
    let n = 0;
    for (const t of tasks.values()) if (PENDING_STATUSES.includes(t.progress)) n++;
    return n;
  }

  function checkFresh(timestamp: string, context: string): void {
    if (!/^\d{1,12}$/.test(timestamp)) throw new HttpError(400, `${context}: invalid timestamp format`);
    const skew = Math.abs(Math.floor(Date.now() / 1000) - Number(timestamp));
    if (skew > SIGNATURE_VALIDITY_S) {
      stats.rejectedAuth++;
      throw new HttpError(
        401,
        `${context}: signature expired (timestamp is ${skew} s away, at most ${SIGNATURE_VALIDITY_S})`,
      );
    }
  }

  /** The JSON body of a signed task request: the id must be a UUID and `signature` a non-empty string. */
  async function signedTaskRequest(
    req: IncomingMessage,
    id: string,
    context: string,
  ): Promise<Record<string, unknown> & { signature: string }> {
    if (!UUID_RE.test(id)) throw new HttpError(400, "parse task id: invalid UUID");
    const body = await readJsonBody(req, context);
    if (typeof body.signature !== "string" || body.signature === "")
      throw new HttpError(400, `${context}: signature is required`);
    return { ...body, signature: body.signature };
  }

  async function readJsonBody(req: IncomingMessage, context: string): Promise<Record<string, unknown>> {
    const raw = await readBody(req, JSON_BODY_LIMIT);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new HttpError(400, `${context}: the body is not valid JSON`);
    }
    if (!body || typeof body !== "object" || Array.isArray(body))
      throw new HttpError(400, `${context}: the body must be a JSON object`);
    return body as Record<string, unknown>;
  }

  function view(t: TaskRecord): FineTuningTaskView {
    return { ...taskJson(t), history: [...t.history], log: [...t.log], delivery: t.delivery };
  }

  let closed = false;
  return {
    url,
    address: getAddress(providerWallet.address),
    teeAddress: teeWallet.address,
    models,
    pricePerToken,
    service,
    appCompose,
    get faults() {
      return faults;
    },
    async setFaults(next) {
      const wasDown = Boolean(faults.down);
      faults = { ...next };
      pipeline.kick();
      if (closed) return;
      if (faults.down && !wasDown) await stopListening(server);
      if (!faults.down && wasDown) await listenLocal(server, port);
    },
    get timing() {
      return timing;
    },
    setTiming(next) {
      timing = { ...timing, ...next };
      pipeline.kick();
    },
    stats,
    tasks: () => [...tasks.values()].map(view),
    task: (id) => {
      const t = tasks.get(id.toLowerCase());
      return t ? view(t) : undefined;
    },
    waitForStatus(id, statuses, options = {}) {
      const wanted: readonly FineTuningStatus[] = typeof statuses === "string" ? [statuses] : statuses;
      return new Promise((resolve, reject) => {
        const check = (t: TaskRecord) => {
          if (t.id !== id.toLowerCase() || !wanted.includes(t.progress)) return;
          cleanup();
          resolve(view(t));
        };
        const timer = setTimeout(() => {
          cleanup();
          const t = tasks.get(id.toLowerCase());
          reject(
            new Error(`task ${id} did not reach ${wanted.join("|")} (it is ${t?.progress ?? "unknown"})`),
          );
        }, options.timeoutMs ?? 30_000);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        const t = tasks.get(id.toLowerCase());
        if (t) check(t);
      });
    },
    async restart() {
      if (closed) return;
      await pipeline.stop();
      await stopListening(server);
      pipeline = newPipeline();
      pipeline.start();
      if (!faults.down) await listenLocal(server, port);
    },
    async close() {
      if (closed) return;
      closed = true;
      await pipeline.stop();
      await stopListening(server);
    },
  };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** `{"error": "Provider: …"}` as the Go broker's handleBrokerError writes it; 5xx bodies are generic. */
function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: status >= 500 ? statusText(status) : `Provider: ${message}` });
}

function statusText(status: number): string {
  return status === 503 ? "Service Unavailable" : status === 502 ? "Bad Gateway" : "Internal Server Error";
}

function sendText(res: ServerResponse, status: number, text: string): void {
  const bytes = Buffer.from(text);
  res.writeHead(status, {
    ...CORS_HEADERS,
    "Content-Type": "text/plain; charset=utf-8",
    "Content-Length": String(bytes.length),
  });
  res.end(bytes);
}
