import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { readConfig } from '#libs/config';
import { InferBatchSchema, InferKind } from '#libs/contracts';
import { backendRequestOf, BatchShapeError, isIdempotent } from './backend-request.js';
import { pickBackend } from './balancer.js';
import { backendBaseUrl, inferenceSection } from './config.js';
import { apportion, splitAnswer } from './split-answer.js';
import { SseReader } from './sse.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const json = (value: unknown) => encoder.encode(JSON.stringify(value));

describe('the backend request of a batch', () => {
  it('puts the inputs in batch order into `input` with the shared params, dropping batchgate-only fields', () => {
    const batch = create(InferBatchSchema, {
      kind: InferKind.EMBEDDING,
      model: 'm',
      paramsJson: json({ dimensions: 8, priority: 'high', stream: true }),
      inputs: [{ inputJson: json('a') }, { inputJson: json([1, 2]) }],
    });
    expect(backendRequestOf(batch)).toEqual({ path: '/embeddings', body: { dimensions: 8, model: 'm', input: ['a', [1, 2]] } });
  });

  it('completions go as a `prompt` array; stream is set by the batch alone; chat sends its one body', () => {
    const completion = create(InferBatchSchema, {
      kind: InferKind.COMPLETION,
      model: 'm',
      paramsJson: json({ n: 2 }),
      inputs: [{ inputJson: json('p') }],
      stream: true,
    });
    expect(backendRequestOf(completion).body).toEqual({ n: 2, model: 'm', prompt: ['p'], stream: true });
    const chat = create(InferBatchSchema, {
      kind: InferKind.CHAT,
      model: 'm',
      inputs: [{ inputJson: json({ model: 'x', messages: [], priority: 'low' }) }],
    });
    expect(backendRequestOf(chat)).toEqual({ path: '/chat/completions', body: { model: 'm', messages: [] } });
  });

  it('refuses a batch it cannot send', () => {
    expect(() => backendRequestOf(create(InferBatchSchema, { kind: InferKind.EMBEDDING, inputs: [] }))).toThrow(BatchShapeError);
    expect(() =>
      backendRequestOf(create(InferBatchSchema, { kind: InferKind.EMBEDDING, inputs: [{ inputJson: encoder.encode('{') }] })),
    ).toThrow(/inputs\[0\]/);
    expect(() =>
      backendRequestOf(create(InferBatchSchema, { kind: InferKind.CHAT, inputs: [{ inputJson: json({}) }, { inputJson: json({}) }] })),
    ).toThrow(/one request/);
  });

  it('retries only what gives the same answer again: embeddings, temperature 0, a seed', () => {
    expect(isIdempotent(InferKind.EMBEDDING, {})).toBe(true);
    expect(isIdempotent(InferKind.COMPLETION, { temperature: 0 })).toBe(true);
    expect(isIdempotent(InferKind.CHAT, { temperature: 1, seed: 3 })).toBe(true);
    expect(isIdempotent(InferKind.COMPLETION, {})).toBe(false);
    expect(isIdempotent(InferKind.CHAT, { temperature: 0.7 })).toBe(false);
  });
});

describe('splitting an answer per input', () => {
  it('embeddings by data index, whatever order the backend listed them in', () => {
    const answer = {
      data: [
        { index: 1, embedding: [2] },
        { index: 0, embedding: [1] },
      ],
      usage: { prompt_tokens: 9 },
    };
    const outputs = splitAnswer(InferKind.EMBEDDING, answer, [1, 2], 1);
    expect(outputs.map((o) => JSON.parse(decoder.decode(o.outputJson)) as unknown)).toEqual([
      { index: 0, embedding: [1] },
      { index: 1, embedding: [2] },
    ]);
    expect(outputs.map((o) => o.promptTokens)).toEqual([3, 6]);
  });

  it('completions: prompt i owns choices i*n .. i*n+n-1, re-indexed from 0', () => {
    const choices = [0, 1, 2, 3].map((index) => ({ index, text: `t${index}` }));
    const outputs = splitAnswer(InferKind.COMPLETION, { choices, usage: { prompt_tokens: 2, completion_tokens: 8 } }, [1, 1], 2);
    expect(JSON.parse(decoder.decode(outputs[1]!.outputJson))).toEqual([
      { index: 0, text: 't2' },
      { index: 1, text: 't3' },
    ]);
    expect(outputs.map((o) => o.completionTokens)).toEqual([4, 4]);
  });

  it('an input the answer does not cover gets a 502 of its own, the others their answer', () => {
    const outputs = splitAnswer(InferKind.EMBEDDING, { data: [{ index: 0, embedding: [] }] }, [1, 1], 1);
    expect(outputs.map((o) => o.status)).toEqual([200, 502]);
  });

  it('apportions tokens by weight, summing exactly to the total', () => {
    expect(apportion(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(apportion(7, [0, 0])).toEqual([4, 3]);
    expect(apportion(5, [3, 1, 1]).reduce((a, b) => a + b)).toBe(5);
  });
});

describe('balancers', () => {
  const c = (index: number, pending: number) => ({ index, pending });

  it('round robin steps through the candidates', () => {
    expect([0, 1, 2, 3].map((turn) => pickBackend('round_robin', [c(0, 0), c(1, 9)], turn, Math.random)!.index)).toEqual([0, 1, 0, 1]);
  });

  it('least loaded takes the fewest pending calls and rotates among ties', () => {
    expect(pickBackend('least_loaded', [c(0, 3), c(1, 1), c(2, 2)], 0, Math.random)!.index).toBe(1);
    expect([0, 1].map((turn) => pickBackend('least_loaded', [c(0, 0), c(1, 0), c(2, 5)], turn, Math.random)!.index)).toEqual([0, 1]);
  });

  it('power of two compares two distinct random candidates', () => {
    const draws = [0.1, 0.9];
    const random = () => draws.shift() ?? 0;
    expect(pickBackend('power_of_two', [c(0, 5), c(1, 1), c(2, 0)], 0, random)!.index).toBe(2);
  });

  it('no candidate, no pick', () => {
    expect(pickBackend('least_loaded', [], 0, Math.random)).toBeUndefined();
  });
});

describe('BATCHGATE_INFERENCE_UPSTREAM', () => {
  it('takes base URLs with or without /v1', () => {
    expect(backendBaseUrl('http://vllm:8000')).toBe('http://vllm:8000/v1');
    expect(backendBaseUrl('https://api.example.com/v1/')).toBe('https://api.example.com/v1');
    expect(backendBaseUrl('http://gw/openai')).toBe('http://gw/openai/v1');
  });

  it('reads a comma-separated list and names every bad entry without showing credentials', () => {
    expect(readConfig({ BATCHGATE_INFERENCE_UPSTREAM: 'http://a:1, http://b:2' }, inferenceSection).inferenceBackends).toEqual([
      'http://a:1/v1',
      'http://b:2/v1',
    ]);
    expect(readConfig({}, inferenceSection).inferenceBackends).toEqual([]);
    expect(() => readConfig({ BATCHGATE_INFERENCE_UPSTREAM: 'http://a:1,ftp://b' }, inferenceSection)).toThrow(
      /BATCHGATE_INFERENCE_UPSTREAM .*"ftp:\/\/b" is not http or https/,
    );
    expect(() => readConfig({ BATCHGATE_INFERENCE_UPSTREAM: 'http://a:1,,http://b:2' }, inferenceSection)).toThrow(/an entry is empty/);
    try {
      readConfig({ BATCHGATE_INFERENCE_UPSTREAM: 'http://user:s3cret@a:1' }, inferenceSection);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain('carries credentials; set BATCHGATE_INFERENCE_API_KEY instead');
    }
  });

  it('names a bad balancer', () => {
    expect(() => readConfig({ BATCHGATE_INFERENCE_BALANCER: 'random' }, inferenceSection)).toThrow(
      /BATCHGATE_INFERENCE_BALANCER must be one of round_robin, least_loaded, power_of_two/,
    );
  });
});

describe('reading server-sent events', () => {
  it('yields each complete event data, across chunk boundaries and CRLF', () => {
    const reader = new SseReader();
    expect(reader.feed('data: {"a"')).toEqual([]);
    expect(reader.feed(':1}\r\n\r\ndata: [DONE]\n')).toEqual(['{"a":1}']);
    expect(reader.feed('\n')).toEqual(['[DONE]']);
  });
});
