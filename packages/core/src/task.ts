import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { create, isMessage } from "@bufbuild/protobuf";
import {
  type ChatMessage,
  ChatMessageSchema,
  type ComputeTask,
  ComputeTaskSchema,
  type GenerationParameters,
  GenerationParametersSchema,
  type Resources,
  ResourcesSchema,
  type TaskInputs,
  TaskInputsSchema,
  TaskType,
  VerificationMethod,
} from "./gen/chaoschain/zerog/v1/compute_pb.js";
import { taskTypeFromName, verificationFromName } from "./names.js";

/** One problem with one field of a request, as in google.rpc.BadRequest.FieldViolation. */
export interface FieldViolation {
  /** Path to the field in snake_case proto names, e.g. `task.inputs.parameters.temperature`. */
  field: string;
  /** What is wrong and what is accepted. */
  description: string;
  /** UPPER_SNAKE_CASE kind: REQUIRED, INVALID_TYPE, INVALID_VALUE, OUT_OF_RANGE, UNKNOWN_FIELD, CONFLICT. */
  reason: "REQUIRED" | "INVALID_TYPE" | "INVALID_VALUE" | "OUT_OF_RANGE" | "UNKNOWN_FIELD" | "CONFLICT";
}

export type ParseTaskResult = { ok: true; task: ComputeTask } | { ok: false; violations: FieldViolation[] };

/**
 * A task as a plain object: the task dictionary of the original ChaosChain Python adapter
 * (snake_case keys, `"inference"`, `"tee-ml"`), or the same with camelCase keys.
 *
 * @example
 * const task: TaskInput = {
 *   task_type: "inference",
 *   model: "llama-3-8b",
 *   inputs: { prompt: "What is blockchain?" },
 *   verification: "tee-ml",
 * };
 */
export interface TaskInput {
  task_type?: string;
  taskType?: string;
  model?: string;
  inputs?: {
    prompt?: string;
    messages?: Array<{ role: string; content: string }>;
    parameters?: {
      max_tokens?: number;
      maxTokens?: number;
      temperature?: number;
      top_p?: number;
      topP?: number;
      stop?: string[];
      seed?: number;
    };
    extras?: Record<string, unknown>;
    stream?: boolean;
    dataset?: string;
  };
  verification?: string;
  docker_image?: string;
  dockerImage?: string;
  /**
   * `gpu`: a number of GPUs, or a GPU model name such as `"A100"` (the original adapter's
   * spelling, sent as `gpu_type`). `gpu_type` names the model explicitly next to a count.
   */
  resources?: { gpu?: number | string; gpu_type?: string; gpuType?: string; memory?: string };
  provider_address?: string;
  providerAddress?: string;
}

export const limits = {
  modelLength: 256,
  promptBytes: 1 << 20,
  messages: 1024,
  maxTokens: 1 << 20,
  stopSequences: 8,
  gpu: 64,
  gpuTypeLength: 64,
  idempotencyKeyLength: 128,
} as const;

const roles = new Set(["system", "user", "assistant", "tool", "developer"]);
const reservedExtras = new Set(["model", "messages", "stream", "prompt"]);
const modelPattern = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;
const addressPattern = /^0x[0-9a-fA-F]{40}$/;
// name[:tag][@sha256:<64 hex>], lower-case repository path as OCI requires.
const imagePattern =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
// "A100", "H100", "RTX 4090", "A100-80GB", "MI300X": a model name, not markup or a sentence.
const gpuTypePattern = /^[A-Za-z0-9][A-Za-z0-9 ._+-]*$/;
const memoryPattern = /^(\d+(?:\.\d+)?)\s*(B|K|KB|KiB|M|MB|MiB|G|GB|GiB|T|TB|TiB)$/i;

class Collector {
  readonly violations: FieldViolation[] = [];
  add(field: string, reason: FieldViolation["reason"], description: string): void {
    this.violations.push({ field, reason, description });
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/** Reads `obj[snake] ?? obj[camel]`; reports both spellings given at once. */
function pick(
  obj: Record<string, unknown>,
  snake: string,
  camel: string,
  path: string,
  c: Collector,
): unknown {
  if (snake !== camel && obj[snake] !== undefined && obj[camel] !== undefined) {
    c.add(`${path}.${snake}`, "CONFLICT", `give either "${snake}" or "${camel}", not both`);
  }
  return obj[snake] ?? obj[camel];
}

function checkKeys(obj: Record<string, unknown>, allowed: string[], path: string, c: Collector): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key) && obj[key] !== undefined) {
      const names = [...new Set(allowed.map((k) => k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`)))];
      c.add(`${path}.${key}`, "UNKNOWN_FIELD", `unknown field; accepted fields: ${names.join(", ")}`);
    }
  }
}

function asString(v: unknown, path: string, c: Collector): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  c.add(path, "INVALID_TYPE", `must be a string, got ${describe(v)}`);
  return undefined;
}

function asNumber(v: unknown, path: string, c: Collector): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  c.add(path, "INVALID_TYPE", `must be a finite number, got ${describe(v)}`);
  return undefined;
}

function asInteger(v: unknown, path: string, c: Collector): number | undefined {
  const n = asNumber(v, path, c);
  if (n === undefined) return undefined;
  if (Number.isInteger(n) && n >= 0) return n;
  c.add(path, "INVALID_VALUE", `must be a non-negative integer, got ${n}`);
  return undefined;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `${typeof v} ${JSON.stringify(v)}`;
}

/** Deepest nesting of JSON in a task (`inputs.extras`): deeper, or cyclic, is refused. */
const maxJsonDepth = 32;

function toJsonValue(v: unknown, path: string, c: Collector, depth = 0): JsonValue | undefined {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (Number.isFinite(v)) return v;
    c.add(path, "INVALID_VALUE", "must be a finite number");
    return undefined;
  }
  if ((Array.isArray(v) || isPlainObject(v)) && depth >= maxJsonDepth) {
    c.add(path, "OUT_OF_RANGE", `nested deeper than ${maxJsonDepth} levels (or cyclic)`);
    return undefined;
  }
  if (Array.isArray(v)) return v.map((x, i) => toJsonValue(x, `${path}[${i}]`, c, depth + 1) ?? null);
  if (isPlainObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) {
      const j = toJsonValue(x, `${path}.${k}`, c, depth + 1);
      // defineProperty: a key "__proto__" stays a key (assignment would set the prototype).
      if (j !== undefined)
        Object.defineProperty(out, k, { value: j, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  c.add(
    path,
    "INVALID_TYPE",
    `must be JSON (string, number, boolean, null, array or object), got ${describe(v)}`,
  );
  return undefined;
}

function parseParameters(v: unknown, path: string, c: Collector): GenerationParameters | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) {
    c.add(path, "INVALID_TYPE", `must be an object, got ${describe(v)}`);
    return undefined;
  }
  checkKeys(v, ["max_tokens", "maxTokens", "temperature", "top_p", "topP", "stop", "seed"], path, c);
  const p = create(GenerationParametersSchema);
  const maxTokens = asInteger(pick(v, "max_tokens", "maxTokens", path, c), `${path}.max_tokens`, c);
  if (maxTokens !== undefined) p.maxTokens = maxTokens;
  const temperature = asNumber(v.temperature, `${path}.temperature`, c);
  if (temperature !== undefined) p.temperature = temperature;
  const topP = asNumber(pick(v, "top_p", "topP", path, c), `${path}.top_p`, c);
  if (topP !== undefined) p.topP = topP;
  const seed = asInteger(v.seed, `${path}.seed`, c);
  if (seed !== undefined) p.seed = BigInt(seed);
  if (v.stop !== undefined && v.stop !== null) {
    const stop = typeof v.stop === "string" ? [v.stop] : v.stop;
    if (Array.isArray(stop)) {
      stop.forEach((s, i) => {
        const str = asString(s, `${path}.stop[${i}]`, c);
        if (str !== undefined) p.stop.push(str);
      });
    } else
      c.add(
        `${path}.stop`,
        "INVALID_TYPE",
        `must be a string or an array of strings, got ${describe(v.stop)}`,
      );
  }
  return p;
}

function parseMessages(v: unknown, path: string, c: Collector): ChatMessage[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    c.add(path, "INVALID_TYPE", `must be an array of {role, content}, got ${describe(v)}`);
    return [];
  }
  return v.flatMap((m, i) => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(m)) {
      c.add(at, "INVALID_TYPE", `must be an object {role, content}, got ${describe(m)}`);
      return [];
    }
    checkKeys(m, ["role", "content"], at, c);
    return [
      create(ChatMessageSchema, {
        role: asString(m.role, `${at}.role`, c) ?? "",
        content: asString(m.content, `${at}.content`, c) ?? "",
      }),
    ];
  });
}

function parseInputs(v: unknown, path: string, c: Collector): TaskInputs | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) {
    c.add(path, "INVALID_TYPE", `must be an object, got ${describe(v)}`);
    return undefined;
  }
  checkKeys(v, ["prompt", "messages", "parameters", "extras", "stream", "dataset"], path, c);
  const inputs = create(TaskInputsSchema, {
    prompt: asString(v.prompt, `${path}.prompt`, c) ?? "",
    messages: parseMessages(v.messages, `${path}.messages`, c),
    dataset: asString(v.dataset, `${path}.dataset`, c) ?? "",
  });
  const parameters = parseParameters(v.parameters, `${path}.parameters`, c);
  if (parameters) inputs.parameters = parameters;
  if (v.stream !== undefined && v.stream !== null) {
    if (typeof v.stream === "boolean") inputs.stream = v.stream;
    else c.add(`${path}.stream`, "INVALID_TYPE", `must be a boolean, got ${describe(v.stream)}`);
  }
  if (v.extras !== undefined && v.extras !== null) {
    if (isPlainObject(v.extras)) {
      const extras = toJsonValue(v.extras, `${path}.extras`, c);
      if (extras && typeof extras === "object" && !Array.isArray(extras))
        inputs.extras = extras as JsonObject;
    } else c.add(`${path}.extras`, "INVALID_TYPE", `must be an object, got ${describe(v.extras)}`);
  }
  return inputs;
}

function parseResources(v: unknown, path: string, c: Collector): Resources | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) {
    c.add(path, "INVALID_TYPE", `must be an object {gpu, memory}, got ${describe(v)}`);
    return undefined;
  }
  checkKeys(v, ["gpu", "gpu_type", "gpuType", "memory"], path, c);
  const memory = typeof v.memory === "number" ? `${v.memory}GB` : asString(v.memory, `${path}.memory`, c);
  let gpuType = asString(pick(v, "gpu_type", "gpuType", path, c), `${path}.gpu_type`, c);
  let gpu: number | undefined;
  if (typeof v.gpu === "string") {
    // The original adapter's `gpu` is a GPU model name ("A100"); ours is a count.
    const name = v.gpu.trim();
    if (name === "" || /^\d+$/.test(name)) {
      c.add(
        `${path}.gpu`,
        "INVALID_VALUE",
        `a GPU model name such as "A100", or a number of GPUs as a number; got ${JSON.stringify(v.gpu)}`,
      );
    } else if (gpuType !== undefined && gpuType !== name) {
      c.add(
        `${path}.gpu`,
        "CONFLICT",
        `names GPU ${JSON.stringify(name)} but gpu_type is ${JSON.stringify(gpuType)}`,
      );
    } else gpuType = name;
  } else if (v.gpu === undefined || v.gpu === null || typeof v.gpu === "number") {
    gpu = asInteger(v.gpu, `${path}.gpu`, c);
  } else {
    c.add(
      `${path}.gpu`,
      "INVALID_TYPE",
      `must be a number of GPUs or a GPU model name, got ${describe(v.gpu)}`,
    );
  }
  return create(ResourcesSchema, { gpu: gpu ?? 0, memory: memory ?? "", gpuType: gpuType ?? "" });
}

function parseEnum<E>(
  v: unknown,
  path: string,
  c: Collector,
  fromName: (name: string) => E | undefined,
  accepted: string,
): E | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "number") {
    c.add(path, "INVALID_TYPE", `must be one of ${accepted}, got number ${v}`);
    return undefined;
  }
  const s = asString(v, path, c);
  if (s === undefined) return undefined;
  const value = fromName(s);
  if (value === undefined)
    c.add(path, "INVALID_VALUE", `unknown value ${JSON.stringify(s)}; one of ${accepted}`);
  return value;
}

/**
 * Turns a plain task object (the original Python adapter's dictionary, snake_case or camelCase)
 * or a `ComputeTask` message into a validated `ComputeTask`, or the list of every problem found,
 * each naming its field.
 *
 * @example
 * const parsed = parseTask({ task_type: "inference", model: "llama-3-8b", inputs: { prompt: "Hi" } });
 * if (!parsed.ok) console.error(parsed.violations); // [{ field: "task.model", ... }]
 */
export function parseTask(input: unknown, path = "task"): ParseTaskResult {
  try {
    return parseTaskInput(input, path);
  } catch (err) {
    // A getter or a proxy of the caller's threw while the task was read.
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      violations: [{ field: path, reason: "INVALID_VALUE", description: `could not be read: ${message}` }],
    };
  }
}

function parseTaskInput(input: unknown, path: string): ParseTaskResult {
  if (isMessage(input, ComputeTaskSchema)) {
    const violations = validateTask(input, path);
    return violations.length ? { ok: false, violations } : { ok: true, task: input };
  }
  const c = new Collector();
  if (!isPlainObject(input)) {
    c.add(path, input === undefined || input === null ? "REQUIRED" : "INVALID_TYPE", "must be a task object");
    return { ok: false, violations: c.violations };
  }
  checkKeys(
    input,
    [
      "task_type",
      "taskType",
      "model",
      "inputs",
      "verification",
      "docker_image",
      "dockerImage",
      "resources",
      "provider_address",
      "providerAddress",
    ],
    path,
    c,
  );
  const task = create(ComputeTaskSchema, {
    taskType:
      parseEnum(
        pick(input, "task_type", "taskType", path, c),
        `${path}.task_type`,
        c,
        taskTypeFromName,
        '"inference", "fine-tuning", "training"',
      ) ?? TaskType.UNSPECIFIED,
    model: asString(input.model, `${path}.model`, c) ?? "",
    verification:
      parseEnum(
        input.verification,
        `${path}.verification`,
        c,
        verificationFromName,
        '"tee-ml", "zk-ml", "op-ml"',
      ) ?? VerificationMethod.UNSPECIFIED,
    dockerImage:
      asString(pick(input, "docker_image", "dockerImage", path, c), `${path}.docker_image`, c) ?? "",
    providerAddress:
      asString(pick(input, "provider_address", "providerAddress", path, c), `${path}.provider_address`, c) ??
      "",
  });
  const inputs = parseInputs(input.inputs, `${path}.inputs`, c);
  if (inputs) task.inputs = inputs;
  const resources = parseResources(input.resources, `${path}.resources`, c);
  if (resources) task.resources = resources;
  // Type problems first; semantic checks only make sense on well-typed fields.
  const known = new Set(c.violations.map((v) => v.field));
  for (const v of validateTask(task, path)) if (!known.has(v.field)) c.violations.push(v);
  return c.violations.length ? { ok: false, violations: c.violations } : { ok: true, task };
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/**
 * Checks the meaning of a well-typed `ComputeTask` (what the bridge receives over the wire).
 * Returns every violation found; an empty list means the task is valid.
 */
export function validateTask(task: ComputeTask | undefined, path = "task"): FieldViolation[] {
  const c = new Collector();
  if (!task) {
    c.add(path, "REQUIRED", "a task is required");
    return c.violations;
  }
  if (task.taskType === TaskType.UNSPECIFIED) {
    c.add(`${path}.task_type`, "REQUIRED", 'required: one of "inference", "fine-tuning", "training"');
  } else if (!Object.values(TaskType).includes(task.taskType)) {
    c.add(`${path}.task_type`, "INVALID_VALUE", `unknown task type ${task.taskType}`);
  }
  if (!Object.values(VerificationMethod).includes(task.verification)) {
    c.add(`${path}.verification`, "INVALID_VALUE", `unknown verification method ${task.verification}`);
  }
  if (task.model.trim() === "")
    c.add(`${path}.model`, "REQUIRED", 'required: a model name, e.g. "llama-3-8b"');
  else if (task.model.length > limits.modelLength) {
    c.add(`${path}.model`, "OUT_OF_RANGE", `at most ${limits.modelLength} characters`);
  } else if (!modelPattern.test(task.model)) {
    c.add(
      `${path}.model`,
      "INVALID_VALUE",
      "letters, digits and . _ : / @ + - only, starting with a letter or digit",
    );
  }
  validateInputs(task, `${path}.inputs`, c);
  if (task.dockerImage !== "" && !imagePattern.test(task.dockerImage)) {
    c.add(
      `${path}.docker_image`,
      "INVALID_VALUE",
      'must be an image reference "name[:tag][@sha256:<64 hex>]"',
    );
  }
  if (task.providerAddress !== "" && !addressPattern.test(task.providerAddress)) {
    c.add(`${path}.provider_address`, "INVALID_VALUE", "must be a 0x-prefixed 20-byte hex address");
  }
  const r = task.resources;
  if (r) {
    if (r.gpu > limits.gpu) c.add(`${path}.resources.gpu`, "OUT_OF_RANGE", `at most ${limits.gpu}`);
    if (r.gpuType.length > limits.gpuTypeLength) {
      c.add(`${path}.resources.gpu_type`, "OUT_OF_RANGE", `at most ${limits.gpuTypeLength} characters`);
    } else if (r.gpuType !== "" && !gpuTypePattern.test(r.gpuType)) {
      c.add(
        `${path}.resources.gpu_type`,
        "INVALID_VALUE",
        'a GPU model name such as "A100" or "H100": letters, digits, space and . _ + - only',
      );
    }
    if (r.memory !== "") {
      const m = memoryPattern.exec(r.memory.trim());
      if (!m)
        c.add(`${path}.resources.memory`, "INVALID_VALUE", 'must be a size such as "16GB", "512MiB" or "8G"');
      else if (Number(m[1]) <= 0)
        c.add(`${path}.resources.memory`, "OUT_OF_RANGE", "must be greater than zero");
    }
  }
  return c.violations;
}

function validateInputs(task: ComputeTask, path: string, c: Collector): void {
  const inputs = task.inputs;
  if (task.taskType === TaskType.FINE_TUNING || task.taskType === TaskType.TRAINING) {
    if (!inputs || inputs.dataset.trim() === "") {
      c.add(
        `${path}.dataset`,
        "REQUIRED",
        'required for fine-tuning and training: inline JSONL (starting with "{"), a file:// path on the bridge host, an https:// URL or a 0G Storage root hash (0x…)',
      );
    }
    return;
  }
  if (!inputs) {
    c.add(path, "REQUIRED", "required for inference: give inputs.prompt or inputs.messages");
    return;
  }
  const hasPrompt = inputs.prompt.trim() !== "";
  if (hasPrompt && inputs.messages.length > 0) {
    c.add(`${path}.prompt`, "CONFLICT", "give either prompt or messages, not both");
  } else if (!hasPrompt && inputs.messages.length === 0) {
    c.add(`${path}.prompt`, "REQUIRED", "required for inference: a non-empty prompt, or messages");
  }
  if (utf8Length(inputs.prompt) > limits.promptBytes) {
    c.add(`${path}.prompt`, "OUT_OF_RANGE", `at most ${limits.promptBytes} bytes`);
  }
  if (inputs.messages.length > limits.messages) {
    c.add(`${path}.messages`, "OUT_OF_RANGE", `at most ${limits.messages} messages`);
  }
  inputs.messages.forEach((m, i) => {
    if (!roles.has(m.role)) {
      c.add(
        `${path}.messages[${i}].role`,
        "INVALID_VALUE",
        `one of ${[...roles].join(", ")}; got ${JSON.stringify(m.role)}`,
      );
    }
    if (m.role === "user" && m.content.trim() === "") {
      c.add(`${path}.messages[${i}].content`, "REQUIRED", "a user message needs content");
    }
  });
  if (inputs.messages.length > 0 && inputs.messages.at(-1)?.role === "assistant") {
    c.add(`${path}.messages`, "INVALID_VALUE", "the last message must not be the assistant's");
  }
  const p = inputs.parameters;
  if (p) {
    const at = `${path}.parameters`;
    if (p.maxTokens !== undefined && (p.maxTokens < 1 || p.maxTokens > limits.maxTokens)) {
      c.add(`${at}.max_tokens`, "OUT_OF_RANGE", `between 1 and ${limits.maxTokens}`);
    }
    if (p.temperature !== undefined && !(p.temperature >= 0 && p.temperature <= 2)) {
      c.add(`${at}.temperature`, "OUT_OF_RANGE", "between 0 and 2");
    }
    if (p.topP !== undefined && !(p.topP > 0 && p.topP <= 1)) {
      c.add(`${at}.top_p`, "OUT_OF_RANGE", "greater than 0 and at most 1");
    }
    if (p.seed !== undefined && p.seed > BigInt(Number.MAX_SAFE_INTEGER)) {
      c.add(
        `${at}.seed`,
        "OUT_OF_RANGE",
        `at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1): a larger JSON number is not read exactly`,
      );
    }
    if (p.stop.length > limits.stopSequences) {
      c.add(`${at}.stop`, "OUT_OF_RANGE", `at most ${limits.stopSequences} stop sequences`);
    }
  }
  for (const key of Object.keys(inputs.extras ?? {})) {
    if (reservedExtras.has(key)) {
      c.add(`${path}.extras.${key}`, "CONFLICT", "set by the bridge; use the task's own field instead");
    }
  }
}

/** Checks an idempotency key: empty (none) or 1–128 printable ASCII characters. */
export function validateIdempotencyKey(key: string, path = "idempotency_key"): FieldViolation[] {
  if (key === "") return [];
  if (key.length > limits.idempotencyKeyLength) {
    return [
      {
        field: path,
        reason: "OUT_OF_RANGE",
        description: `at most ${limits.idempotencyKeyLength} characters`,
      },
    ];
  }
  if (!/^[\x21-\x7e]+$/.test(key)) {
    return [{ field: path, reason: "INVALID_VALUE", description: "printable ASCII without spaces only" }];
  }
  return [];
}
