import { describe, expect, it } from 'vitest';
import { InferKind, Priority } from '#libs/contracts';
import { OpenAiRequestError, parseDeadlineMs, parseInferRequest } from './openai-request.js';
import { tenantOf, TenantQueues } from './tenant-queue.js';
import { estimateInputTokens, estimateTokens } from './token-estimate.js';

const refusal = (fn: () => unknown): OpenAiRequestError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof OpenAiRequestError) return error;
    throw error;
  }
  throw new Error('accepted');
};

describe('OpenAI request validation', () => {
  it('splits embeddings input: a string or one token array is one item, arrays are one item each', () => {
    expect(parseInferRequest(InferKind.EMBEDDING, { model: 'm', input: 'a' }, undefined).inputs).toEqual(['a']);
    expect(parseInferRequest(InferKind.EMBEDDING, { model: 'm', input: [1, 2, 3] }, undefined).inputs).toEqual([[1, 2, 3]]);
    expect(parseInferRequest(InferKind.EMBEDDING, { model: 'm', input: ['a', 'b'] }, undefined).inputs).toEqual(['a', 'b']);
    expect(parseInferRequest(InferKind.EMBEDDING, { model: 'm', input: [[1], [2, 3]] }, undefined).inputs).toEqual([[1], [2, 3]]);
  });

  it('keeps every other parameter as canonical params, without model, input, stream, user and priority', () => {
    const request = parseInferRequest(
      InferKind.COMPLETION,
      { prompt: ['x'], model: 'm', temperature: 0, max_tokens: 5, user: 'u', priority: 'high', n: 2 },
      undefined,
    );
    expect(request.paramsJson).toBe('{"max_tokens":5,"n":2,"temperature":0}');
    expect(request).toMatchObject({ maxTokens: 5, n: 2, user: 'u', priority: Priority.HIGH, stream: false });
  });

  it('the priority header wins over the body field; unknown priorities are 400', () => {
    expect(parseInferRequest(InferKind.EMBEDDING, { model: 'm', input: 'a', priority: 'low' }, 'critical').priority).toBe(
      Priority.CRITICAL,
    );
    expect(refusal(() => parseInferRequest(InferKind.EMBEDDING, { model: 'm', input: 'a' }, 'asap'))).toMatchObject({
      status: 400,
      param: 'priority',
    });
  });

  it('refuses bad bodies with 400 naming the parameter', () => {
    const cases: Array<[InferKind, unknown, string | null]> = [
      [InferKind.EMBEDDING, [], null],
      [InferKind.EMBEDDING, { input: 'a' }, 'model'],
      [InferKind.EMBEDDING, { model: 'm', input: '' }, 'input'],
      [InferKind.EMBEDDING, { model: 'm', input: ['a', 1] }, 'input'],
      [InferKind.EMBEDDING, { model: 'm', input: 'a', stream: true }, 'stream'],
      [InferKind.COMPLETION, { model: 'm', prompt: 'a', max_tokens: 0 }, 'max_tokens'],
      [InferKind.COMPLETION, { model: 'm', prompt: 'a', temperature: 3 }, 'temperature'],
      [InferKind.CHAT, { model: 'm', messages: [] }, 'messages'],
      [InferKind.CHAT, { model: 'm', messages: [{ content: 'x' }] }, 'messages[0].role'],
    ];
    for (const [kind, body, param] of cases) {
      const error = refusal(() => parseInferRequest(kind, body, undefined));
      expect(error.status).toBe(400);
      expect(error.body().error).toMatchObject({ type: 'invalid_request_error', param });
    }
  });

  it('streams a prompt array and n > 1 (each prompt its own item, as unstreamed)', () => {
    const completion = parseInferRequest(InferKind.COMPLETION, { model: 'm', prompt: ['a', 'b'], n: 2, stream: true }, undefined);
    expect(completion).toMatchObject({ inputs: ['a', 'b'], n: 2, stream: true });
    const chat = parseInferRequest(
      InferKind.CHAT,
      { model: 'm', messages: [{ role: 'user', content: 'x' }], n: 3, stream: true },
      undefined,
    );
    expect(chat).toMatchObject({ n: 3, stream: true });
  });

  it('a chat request is one item, the whole body without stream and priority', () => {
    const request = parseInferRequest(
      InferKind.CHAT,
      { model: 'm', messages: [{ role: 'user', content: 'hi' }], priority: 'low', temperature: 0 },
      undefined,
    );
    expect(request.inputs).toEqual([{ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0 }]);
    expect(request.params).toEqual({ temperature: 0 });
  });

  it('x-batchgate-deadline-ms takes 1..600000 ms', () => {
    expect(parseDeadlineMs(undefined)).toBeUndefined();
    expect(parseDeadlineMs('250')).toBe(250);
    for (const bad of ['0', '-5', 'soon', '1.5', '600001']) expect(refusal(() => parseDeadlineMs(bad)).status).toBe(400);
  });
});

describe('token estimate (cl100k_base: exact for OpenAI models, an estimate for others)', () => {
  it('counts tokens of text, the length of token arrays, and chat messages with their framing', () => {
    expect(estimateTokens('hello world')).toBe(2);
    expect(estimateInputTokens([1, 2, 3])).toBe(3);
    expect(estimateInputTokens({ messages: [{ role: 'user', content: 'hello world' }] })).toBe(3 + 4 + 2);
  });
});

describe('tenant queues', () => {
  it('names the tenant by user, else by a hash of the key (never the key), else anonymous', () => {
    expect(tenantOf('alice', 'Bearer sk-secret')).toBe('user:alice');
    const byKey = tenantOf(undefined, 'Bearer sk-secret');
    expect(byKey).toMatch(/^key:/);
    expect(byKey).not.toContain('sk-secret');
    expect(tenantOf(undefined, undefined)).toBe('anonymous');
  });

  it('refuses past the bound with Retry-After from the drain rate, and admits again once items drain', () => {
    const queues = new TenantQueues(4);
    expect(queues.admit('t', 4, 0).ok).toBe(true);
    const refused = queues.admit('t', 2, 0);
    expect(refused).toEqual({ ok: false, retryAfterS: 2 });
    queues.release('t', 4, 10);
    expect(queues.admit('t', 2, 10).ok).toBe(true);
    // A request larger than the bound still goes when the tenant has nothing waiting (never refused forever).
    expect(new TenantQueues(4).admit('u', 10, 0).ok).toBe(true);
  });
});
