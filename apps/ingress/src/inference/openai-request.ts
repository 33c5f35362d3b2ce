import { InferKind } from '#libs/contracts';
import type { Priority } from '#libs/contracts';
import { canonicalJson, parsePriority } from '#libs/inference';

/** A request refused at the edge, in OpenAI's error shape (`{"error": {message, type, param, code}}`). */
export class OpenAiRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null,
    readonly code: string | null,
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const INFERENCE_PATHS: Readonly<Record<string, InferKind>> = {
  '/v1/embeddings': InferKind.EMBEDDING,
  '/v1/completions': InferKind.COMPLETION,
  '/v1/chat/completions': InferKind.CHAT,
};

/** OpenAI's own bound on `input` and `prompt` arrays. */
const MAX_INPUTS = 2048;

/** A validated inference request: its items and the parameters they share. */
export interface InferRequest {
  kind: InferKind;
  model: string;
  /** One entry per item: a string or token array (embeddings, prompts), or the chat body. */
  inputs: unknown[];
  /** Every other parameter (no model, input/prompt, stream, user, priority), canonical. */
  params: Record<string, unknown>;
  paramsJson: string;
  maxTokens: number;
  n: number;
  stream: boolean;
  user: string | undefined;
  priority: Priority | undefined;
}

const bad = (message: string, param: string | null, code: string | null = null) => new OpenAiRequestError(400, message, param, code);
const isTokenArray = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && t >= 0);

/** `input` / `prompt` as items: a string or token array is one item; an array of either is one item each. */
function itemsOf(value: unknown, param: string): unknown[] {
  if (typeof value === 'string') {
    if (value === '') throw bad(`'${param}' must not be empty`, param);
    return [value];
  }
  if (isTokenArray(value)) return [value];
  if (!Array.isArray(value) || value.length === 0)
    throw bad(`'${param}' must be a string, an array of strings, or an array of token arrays`, param);
  if (value.length > MAX_INPUTS) throw bad(`'${param}' has ${value.length} entries; at most ${MAX_INPUTS} are allowed`, param);
  const strings = value.every((v) => typeof v === 'string' && v !== '');
  const tokens = value.every(isTokenArray);
  if (!strings && !tokens) throw bad(`every entry of '${param}' must be a non-empty string, or every entry a token array`, param);
  return value as unknown[];
}

function optionalNumber(body: Record<string, unknown>, name: string, min: number, max: number, integer: boolean): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw bad(`'${name}' must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}`, name);
  }
  return value;
}

function without(body: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([name]) => !names.includes(name)));
}

function chatBody(body: Record<string, unknown>): void {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw bad("'messages' must be a non-empty array", 'messages');
  messages.forEach((m, i) => {
    const message = m as { role?: unknown; content?: unknown };
    if (typeof message !== 'object' || message === null || typeof message.role !== 'string') {
      throw bad(`'messages[${i}]' must be an object with a 'role'`, `messages[${i}].role`);
    }
  });
}

/**
 * Validates an OpenAI request body for `kind` (once, at the edge) and splits
 * it into items: embeddings by `input`, completions by `prompt`, a chat
 * request as one item. `priority` may also come from the header; the header wins.
 */
export function parseInferRequest(kind: InferKind, raw: unknown, headerPriority: string | undefined): InferRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('the request body must be a JSON object', null);
  const body = raw as Record<string, unknown>;
  if (typeof body.model !== 'string' || body.model === '') throw bad("'model' is required and must be a string", 'model');
  const priorityText = headerPriority ?? body.priority;
  const priority = priorityText === undefined ? undefined : parsePriority(priorityText);
  if (priorityText !== undefined && priority === undefined) {
    throw bad(`priority must be one of critical, high, normal, low (got ${JSON.stringify(priorityText)})`, 'priority', 'invalid_priority');
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean')
    throw bad("'stream' must be a boolean", 'stream');
  if (body.user !== undefined && typeof body.user !== 'string') throw bad("'user' must be a string", 'user');
  const stream = body.stream === true;
  const maxTokens = optionalNumber(body, 'max_tokens', 1, 1_000_000, true) ?? 0;
  optionalNumber(body, 'temperature', 0, 2, false);
  const n = optionalNumber(body, 'n', 1, 128, true) ?? 1;
  const rest = without(body, ['model', 'input', 'prompt', 'stream', 'user', 'priority']);
  let inputs: unknown[];
  let params: Record<string, unknown>;
  if (kind === InferKind.EMBEDDING) {
    if (stream) throw bad('embeddings cannot be streamed', 'stream');
    inputs = itemsOf(body.input, 'input');
    params = rest;
  } else if (kind === InferKind.COMPLETION) {
    inputs = itemsOf(body.prompt, 'prompt');
    params = rest;
  } else {
    chatBody(body);
    inputs = [without(body, ['stream', 'priority'])];
    // The chat body travels whole as the item; only what decides sharing stays as params.
    params = {
      ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
      ...(body.seed !== undefined ? { seed: body.seed } : {}),
    };
  }
  const user = typeof body.user === 'string' ? body.user : undefined;
  return {
    kind,
    model: body.model,
    inputs,
    params,
    paramsJson: canonicalJson(kind === InferKind.CHAT ? {} : params),
    maxTokens,
    n,
    stream,
    user,
    priority,
  };
}

/** `x-batchgate-deadline-ms`: ms from arrival, 1 ms to 10 min; undefined when absent. */
export function parseDeadlineMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = Number(header);
  if (!/^\d+$/.test(header.trim()) || value < 1 || value > 600_000) {
    throw bad(
      'x-batchgate-deadline-ms must be an integer number of milliseconds between 1 and 600000',
      'x-batchgate-deadline-ms',
      'invalid_deadline',
    );
  }
  return value;
}
