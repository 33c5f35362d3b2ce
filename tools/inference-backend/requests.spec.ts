import { describe, expect, it } from 'vitest';
import { answerOf, completionOf, embeddingOf, streamEvents } from './answers.js';
import { ApiError, MAX_INPUTS, parseCall } from './requests.js';

const meta = { id: 'cmpl-1', created: 1 };

function error(attempt: () => unknown): ApiError {
  try {
    attempt();
  } catch (caught) {
    if (caught instanceof ApiError) return caught;
    throw caught;
  }
  throw new Error('no error');
}

describe('what the simulated backend accepts', () => {
  it('takes input as a string, strings, a token array or token arrays', () => {
    expect(parseCall('embeddings', { model: 'sim-embedding', input: 'hi there' }, 8).inputs).toEqual([
      { text: 'hi there', promptTokens: 2 },
    ]);
    expect(parseCall('embeddings', { model: 'sim-embedding', input: ['a', 'b'] }, 8).inputs).toHaveLength(2);
    expect(parseCall('embeddings', { model: 'sim-embedding', input: [1, 2, 3] }, 8).inputs).toEqual([{ text: '[1,2,3]', promptTokens: 3 }]);
    expect(parseCall('completions', { model: 'sim-llm', prompt: [[1], [2, 3]] }, 8).inputs.map((i) => i.promptTokens)).toEqual([1, 2]);
  });

  it.each([
    ['embeddings', { model: 'sim-embedding' }, 400, 'input'],
    ['embeddings', { model: 'sim-embedding', input: [] }, 400, 'input'],
    ['embeddings', { model: 'sim-embedding', input: [{}] }, 400, 'input'],
    ['embeddings', { model: 'sim-embedding', input: Array.from({ length: MAX_INPUTS + 1 }, () => 'x') }, 400, 'input'],
    ['embeddings', { model: 'sim-llm', input: 'x' }, 404, 'model'],
    ['completions', { model: 'gpt-4', prompt: 'x' }, 404, 'model'],
    ['completions', { model: 'sim-llm', prompt: 'x', n: 0 }, 400, 'n'],
    ['completions', { model: 'sim-llm', prompt: 'x', max_tokens: -1 }, 400, 'max_tokens'],
    ['chat', { model: 'sim-llm', messages: [] }, 400, 'messages'],
    ['chat', { model: 'sim-llm', messages: [{ content: 'no role' }] }, 400, 'messages[0]'],
    ['embeddings', { model: 'sim-embedding', input: 'x', stream: true }, 400, 'stream'],
  ] as const)('refuses %s %j with %i naming %s', (endpoint, body, status, param) => {
    const refused = error(() => parseCall(endpoint, body, 8));
    expect(refused.status).toBe(status);
    expect(refused.param).toBe(param);
    expect(JSON.parse(refused.body())).toMatchObject({ error: { param } });
  });
});

describe('what it answers', () => {
  it('a deterministic unit vector per input text, at the index of the input', () => {
    const call = parseCall('embeddings', { model: 'sim-embedding', input: ['a', 'b'], dimensions: 16 }, 8);
    const answer = answerOf(call, meta) as { data: Array<{ index: number; embedding: number[] }> };
    expect(answer.data.map((d) => d.index)).toEqual([0, 1]);
    expect(answer.data[1]!.embedding).toEqual(embeddingOf('b', 16));
    expect(Math.hypot(...answer.data[0]!.embedding)).toBeCloseTo(1, 5);
    expect(embeddingOf('a', 16)).not.toEqual(embeddingOf('b', 16));
  });

  it('base64 embeddings are the same float32 vector', () => {
    const call = parseCall('embeddings', { model: 'sim-embedding', input: 'a', encoding_format: 'base64' }, 8);
    const answer = answerOf(call, meta) as { data: Array<{ embedding: string }> };
    const bytes = Buffer.from(answer.data[0]!.embedding, 'base64');
    expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))).toEqual(embeddingOf('a', 8));
  });

  it('completion choices are indexed prompt * n + choice, max_tokens tokens each, with usage', () => {
    const call = parseCall('completions', { model: 'sim-llm', prompt: ['p', 'q'], n: 2, max_tokens: 4 }, 8);
    const answer = answerOf(call, meta) as { choices: Array<{ index: number; text: string }>; usage: Record<string, number> };
    expect(answer.choices.map((c) => c.index)).toEqual([0, 1, 2, 3]);
    expect(answer.choices[3]!.text).toBe(completionOf('q', 1, 4));
    expect(answer.usage).toEqual({ prompt_tokens: 2, completion_tokens: 16, total_tokens: 18 });
  });

  it('a streamed answer, concatenated, is the non-streamed one', () => {
    const call = parseCall(
      'chat',
      {
        model: 'sim-llm',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 20,
        stream: true,
        stream_options: { include_usage: true },
      },
      8,
    );
    const events = streamEvents(call, meta) as Array<{
      choices: Array<{ delta: { content?: string }; finish_reason: string | null }>;
      usage?: unknown;
    }>;
    const text = events.flatMap((e) => e.choices.map((c) => c.delta.content ?? '')).join('');
    expect(text).toBe((answerOf(call, meta) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content);
    expect(events.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(events.at(-1)!.usage).toMatchObject({ completion_tokens: 20 });
  });
});
