import type { InferBatch } from '#libs/contracts';
import { InferKind } from '#libs/contracts';

export type JsonObject = Record<string, unknown>;

const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch {
    throw new BatchShapeError(`${what} is not valid JSON`);
  }
}

/** A batch the worker cannot turn into a backend request: answered 400 to its waiters, no call. */
export class BatchShapeError extends Error {}

/**
 * Drops `priority` (batchgate's own field: an OpenAI backend refuses unknown
 * ones) and `stream` (set from InferBatch.stream alone).
 */
function withoutGatewayFields(body: JsonObject): JsonObject {
  const out = { ...body };
  delete out.priority;
  delete out.stream;
  return out;
}

function paramsOf(batch: InferBatch): JsonObject {
  if (batch.paramsJson.length === 0) return {};
  const params = parseJson(batch.paramsJson, 'params_json');
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new BatchShapeError('params_json is not a JSON object');
  // `priority` is batchgate's own field: an OpenAI backend would refuse it as unknown.
  return withoutGatewayFields(params as JsonObject);
}

export interface BackendRequest {
  /** Path under the backend's /v1 base. */
  path: '/embeddings' | '/completions' | '/chat/completions';
  body: JsonObject;
}

/**
 * The ONE backend call for a batch: the batch's inputs as OpenAI's `input`
 * (embeddings) or `prompt` (completions) array in batch order, with the
 * batch's shared parameters; a chat batch's single input is the whole body.
 */
export function backendRequestOf(batch: InferBatch): BackendRequest {
  const stream = batch.stream ? { stream: true } : {};
  switch (batch.kind) {
    case InferKind.EMBEDDING:
      return { path: '/embeddings', body: { ...paramsOf(batch), model: batch.model, input: inputsOf(batch) } };
    case InferKind.COMPLETION:
      return { path: '/completions', body: { ...paramsOf(batch), model: batch.model, prompt: inputsOf(batch), ...stream } };
    case InferKind.CHAT: {
      if (batch.inputs.length !== 1) throw new BatchShapeError(`a chat batch carries one request (got ${batch.inputs.length})`);
      const body = parseJson(batch.inputs[0]!.inputJson, 'the chat request');
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new BatchShapeError('the chat request is not a JSON object');
      return {
        path: '/chat/completions',
        body: { ...paramsOf(batch), ...withoutGatewayFields(body as JsonObject), model: batch.model, ...stream },
      };
    }
    case InferKind.UNSPECIFIED:
      throw new BatchShapeError('the batch names no kind');
  }
  throw new BatchShapeError(`unknown batch kind ${String(batch.kind)}`);
}

function inputsOf(batch: InferBatch): unknown[] {
  if (batch.inputs.length === 0) throw new BatchShapeError('the batch has no inputs');
  return batch.inputs.map((input, i) => parseJson(input.inputJson, `inputs[${i}]`));
}

/**
 * May this batch be sent again (to another backend) after a failure? The same
 * request gives the same answer: embeddings always; completions and chat only
 * with temperature 0 or a seed (otherwise a retry is a different sample, and
 * the first call may have been billed and generated anyway).
 */
export function isIdempotent(kind: InferKind, body: JsonObject): boolean {
  if (kind === InferKind.EMBEDDING) return true;
  return body.temperature === 0 || Number.isInteger(body.seed);
}

/** Choices per prompt (`n`, default 1): a completion answer has prompts x n choices. */
export function choicesPerPrompt(body: JsonObject): number {
  return Number.isInteger(body.n) && (body.n as number) > 0 ? (body.n as number) : 1;
}
