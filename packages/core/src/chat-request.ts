import { type ComputeTask, TaskType } from "./gen/chaoschain/zerog/v1/compute_pb.js";

/**
 * The OpenAI chat-completions request an inference task maps to: the body a bridge sends a 0G provider
 * and the provider's enclave signs. `servedModel` is the provider's model name (the task's model). The
 * task's extras come first, so they cannot replace the model, the messages or the sampling parameters.
 * Undefined for a task without inference inputs (fine-tuning, training).
 *
 * A client holding its task can thereby tell that a proof's signed request is the one its task maps
 * to, field by field (see the adapter's `taskCheck`).
 *
 * @example
 * const body = JSON.stringify(chatCompletionRequest(task, task.model));
 */
export function chatCompletionRequest(
  task: ComputeTask,
  servedModel: string,
): Record<string, unknown> | undefined {
  const inputs = task.inputs;
  if (task.taskType !== TaskType.INFERENCE || !inputs) return undefined;
  const p = inputs.parameters;
  const body: Record<string, unknown> = {
    ...(inputs.extras ?? {}),
    model: servedModel,
    messages: inputs.prompt
      ? [{ role: "user", content: inputs.prompt }]
      : inputs.messages.map((m) => ({ role: m.role, content: m.content })),
  };
  if (p?.maxTokens !== undefined) body.max_tokens = p.maxTokens;
  if (p?.temperature !== undefined) body.temperature = p.temperature;
  if (p?.topP !== undefined) body.top_p = p.topP;
  if (p?.stop.length) body.stop = p.stop;
  if (p?.seed !== undefined) body.seed = Number(p.seed);
  if (inputs.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return body;
}
