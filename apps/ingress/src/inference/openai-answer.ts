import type { InferItemResult } from '#libs/contracts';
import { InferKind } from '#libs/contracts';
import type { InferRequest } from './openai-request.js';
import { OpenAiRequestError } from './openai-request.js';

const decoder = new TextDecoder();
const parse = (bytes: Uint8Array): unknown => JSON.parse(decoder.decode(bytes)) as unknown;

const ERROR_TYPES: Record<number, string> = { 429: 'rate_limit_exceeded', 503: 'server_error', 504: 'timeout' };

/** The client's error when any of its items failed (the first failure, in item order). */
export function failureOf(results: readonly InferItemResult[]): OpenAiRequestError | undefined {
  const failed = results.find((r) => r.status !== 200);
  if (!failed) return undefined;
  const status = failed.status >= 400 && failed.status <= 599 ? failed.status : 502;
  return new OpenAiRequestError(
    status,
    failed.error || `the backend answered ${failed.status}`,
    null,
    ERROR_TYPES[status] ?? null,
    status >= 500 ? 'server_error' : 'invalid_request_error',
  );
}

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

function usageOf(results: readonly InferItemResult[]): Usage {
  const prompt = results.reduce((s, r) => s + r.promptTokens, 0);
  const completion = results.reduce((s, r) => s + r.completionTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/**
 * The client's OpenAI answer from exactly its own items, in its order:
 * embedding `data[i].index` and completion `choices[].index` are this
 * request's positions (prompt x n + choice), never the batch's; usage is the
 * sum over its items.
 */
export function answerOf(request: InferRequest, results: readonly InferItemResult[]): unknown {
  const first = results[0];
  const created = Math.floor(first?.createdS || Date.now() / 1000);
  const model = first?.responseModel || request.model;
  switch (request.kind) {
    case InferKind.EMBEDDING: {
      const data = results.map((r, index) => ({ ...(parse(r.outputJson) as object), object: 'embedding', index }));
      const usage = usageOf(results);
      return { object: 'list', data, model, usage: { prompt_tokens: usage.prompt_tokens, total_tokens: usage.prompt_tokens } };
    }
    case InferKind.COMPLETION: {
      const choices = results.flatMap((r, prompt) =>
        (parse(r.outputJson) as Array<Record<string, unknown>>).map((choice, i) => ({
          ...choice,
          index: prompt * request.n + (typeof choice.index === 'number' ? choice.index : i),
        })),
      );
      return {
        id: first?.responseId || `cmpl-${first?.batchId ?? ''}`,
        object: 'text_completion',
        created,
        model,
        choices,
        usage: usageOf(results),
      };
    }
    case InferKind.CHAT:
    case InferKind.UNSPECIFIED:
      return first ? parse(first.outputJson) : {};
  }
}
