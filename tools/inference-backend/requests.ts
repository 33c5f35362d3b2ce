import { estimateTokens } from './service-time.js';

/** The models the simulated backend serves, by endpoint (GET /v1/models lists them). */
export const MODELS = { embedding: 'sim-embedding', llm: 'sim-llm' } as const;

export type Endpoint = 'embeddings' | 'completions' | 'chat';

/** An OpenAI-shaped error: {"error": {"message", "type", "param", "code"}} with an HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }

  body(): string {
    return JSON.stringify({ error: { message: this.message, type: this.type, param: this.param, code: this.code } });
  }
}

/** One input of a call: the text its answer is derived from, and its prompt tokens. */
export interface CallInput {
  text: string;
  promptTokens: number;
}

export interface ParsedCall {
  endpoint: Endpoint;
  model: string;
  inputs: CallInput[];
  /** Choices per input (completions and chat). */
  n: number;
  /** Completion tokens per choice (0 for embeddings). */
  maxTokens: number;
  stream: boolean;
  includeUsage: boolean;
  dimensions: number;
  encodingFormat: 'float' | 'base64';
}

/** OpenAI's completion default when max_tokens is absent. */
const DEFAULT_MAX_TOKENS = 16;
/** OpenAI's limit on embedding inputs per call; a batch above it is the gateway's bug. */
export const MAX_INPUTS = 2048;

type Body = Record<string, unknown>;

function isTokenArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((t) => Number.isInteger(t) && (t as number) >= 0);
}

/** string | string[] | number[] | number[][] -> inputs; anything else is a 400 naming the field. */
function inputsOf(value: unknown, param: string): CallInput[] {
  const one = (item: unknown): CallInput => {
    if (typeof item === 'string') return { text: item, promptTokens: estimateTokens(item) };
    if (isTokenArray(item)) return { text: JSON.stringify(item), promptTokens: item.length };
    throw new ApiError(400, `'${param}' must be a string, an array of strings, or token arrays`, param);
  };
  if (typeof value === 'string' || isTokenArray(value)) return [one(value)];
  if (!Array.isArray(value) || value.length === 0) throw new ApiError(400, `'${param}' is required and must not be empty`, param);
  if (value.length > MAX_INPUTS) throw new ApiError(400, `'${param}' has ${value.length} items; at most ${MAX_INPUTS}`, param);
  return value.map(one);
}

function intParam(body: Body, name: string, fallback: number, min: number, max: number): number {
  const value = body[name];
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max)
    throw new ApiError(400, `'${name}' must be an integer between ${min} and ${max}`, name);
  return value as number;
}

function chatInput(body: Body): CallInput {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0)
    throw new ApiError(400, "'messages' is required and must not be empty", 'messages');
  let tokens = 0;
  for (const [i, message] of messages.entries()) {
    const m = message as Body | null;
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string')
      throw new ApiError(400, `'messages[${i}]' must be an object with a role`, `messages[${i}]`);
    tokens += estimateTokens(typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''));
  }
  return { text: JSON.stringify(messages), promptTokens: tokens };
}

function modelFor(endpoint: Endpoint, body: Body): string {
  const model = body.model;
  if (typeof model !== 'string' || model === '') throw new ApiError(400, "'model' is required", 'model');
  const served = endpoint === 'embeddings' ? MODELS.embedding : MODELS.llm;
  if (model !== served)
    throw new ApiError(404, `The model '${model}' does not exist or does not serve /v1/${endpoint}`, 'model', 'model_not_found');
  return model;
}

/** Validates a request body for `endpoint` (OpenAI's fields; unknown fields are ignored as OpenAI-compatible servers do). */
export function parseCall(endpoint: Endpoint, raw: unknown, defaultDimensions: number): ParsedCall {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ApiError(400, 'the body must be a JSON object');
  const body = raw as Body;
  const model = modelFor(endpoint, body);
  const streamOptions = body.stream_options as Body | undefined;
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw new ApiError(400, "'encoding_format' must be float or base64", 'encoding_format');
  const stream = body.stream === true;
  if (stream && endpoint === 'embeddings') throw new ApiError(400, 'embeddings cannot be streamed', 'stream');
  const inputs =
    endpoint === 'embeddings'
      ? inputsOf(body.input, 'input')
      : endpoint === 'completions'
        ? inputsOf(body.prompt, 'prompt')
        : [chatInput(body)];
  return {
    endpoint,
    model,
    inputs,
    n: endpoint === 'embeddings' ? 1 : intParam(body, 'n', 1, 1, 128),
    maxTokens:
      endpoint === 'embeddings'
        ? 0
        : intParam(
            body,
            endpoint === 'chat' && body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens',
            DEFAULT_MAX_TOKENS,
            0,
            32_768,
          ),
    stream,
    includeUsage: streamOptions?.include_usage === true,
    dimensions: intParam(body, 'dimensions', defaultDimensions, 1, 4096),
    encodingFormat: format,
  };
}
