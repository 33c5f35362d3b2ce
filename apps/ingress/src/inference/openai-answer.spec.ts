import { describe, expect, it } from 'vitest';
import { create, InferItemResultSchema, InferKind } from '#libs/contracts';
import { answerOf, failureOf } from './openai-answer.js';
import { parseInferRequest } from './openai-request.js';

const enc = new TextEncoder();
const result = (output: unknown, over: Record<string, unknown> = {}) =>
  create(InferItemResultSchema, {
    status: 200,
    outputJson: enc.encode(JSON.stringify(output)),
    promptTokens: 3,
    completionTokens: 2,
    ...over,
  });

describe('OpenAI answers from a client’s own items', () => {
  it('embeddings: data indexed by the client’s positions, usage summed', () => {
    const request = parseInferRequest(InferKind.EMBEDDING, { model: 'm', input: ['a', 'b'] }, undefined);
    // The backend indexed them 7 and 3 in its batch; the client sees 0 and 1.
    const answer = answerOf(request, [
      result({ object: 'embedding', index: 7, embedding: [1] }),
      result({ object: 'embedding', index: 3, embedding: [2] }),
    ]);
    expect(answer).toMatchObject({
      object: 'list',
      data: [
        { index: 0, embedding: [1] },
        { index: 1, embedding: [2] },
      ],
      usage: { prompt_tokens: 6, total_tokens: 6 },
    });
  });

  it('completions with n = 2: choice index = prompt x n + choice', () => {
    const request = parseInferRequest(InferKind.COMPLETION, { model: 'm', prompt: ['p', 'q'], n: 2 }, undefined);
    const choices = (t: string) => [
      { index: 0, text: `${t}0` },
      { index: 1, text: `${t}1` },
    ];
    const answer = answerOf(request, [result(choices('p')), result(choices('q'))]) as {
      choices: Array<{ index: number; text: string }>;
      usage: unknown;
    };
    expect(answer.choices.map((c) => [c.index, c.text])).toEqual([
      [0, 'p0'],
      [1, 'p1'],
      [2, 'q0'],
      [3, 'q1'],
    ]);
    expect(answer.usage).toEqual({ prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
  });

  it('the first failed item decides the client’s error', () => {
    const failure = failureOf([result({}), result({}, { status: 504, error: 'deadline passed' })]);
    expect(failure?.status).toBe(504);
    expect(failure?.body().error).toMatchObject({ message: 'deadline passed', type: 'server_error' });
    expect(failureOf([result({})])).toBeUndefined();
  });
});
