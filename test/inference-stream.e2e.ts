import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionOf } from '../tools/inference-backend/answers.js';
import { TestFleet } from './support/fleet.js';
import { SimBackend } from './support/inference-backend.js';

/** Enough tokens that the backend sends each choice in many pieces (it caps them at 16 events). */
const MAX_TOKENS = 24;

// Streaming as OpenAI's API does it, through ingress, coordinator and worker
// over real NATS and Redis to the simulated backend process: n > 1 and a
// prompt array stream one SSE stream whose choices[].index = prompt * n + choice.
describe('streamed completions with n > 1 and prompt arrays (real NATS, Redis, backend process)', () => {
  let backend: SimBackend;
  let fleet: TestFleet;
  let client: OpenAI;
  let url: string;

  beforeAll(async () => {
    backend = await SimBackend.start({ BATCHGATE_BACKEND_VARIANCE: '0' });
    fleet = await TestFleet.start({ env: { BATCHGATE_INFERENCE_UPSTREAM: backend.url, BATCHGATE_PARTITIONS: '8' } });
    await fleet.waitForPartitions();
    url = fleet.ingressUrl();
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-test-not-a-real-key', maxRetries: 0 });
  });

  afterAll(async () => {
    await fleet?.stop();
    await backend?.stop();
  });

  it('the openai client streams a 2-prompt completion with n = 2: every index 0..3 gets its own text, in order, and the stream ends', async () => {
    const prompts = ['first prompt', 'second prompt'];
    const stream = await client.completions.create({ model: 'sim-llm', prompt: prompts, n: 2, max_tokens: MAX_TOKENS, stream: true });
    const texts = new Map<number, string>();
    const finished = new Map<number, string | null>();
    let events = 0;
    for await (const chunk of stream) {
      events++;
      expect(chunk.object).toBe('text_completion');
      for (const choice of chunk.choices) {
        texts.set(choice.index, (texts.get(choice.index) ?? '') + choice.text);
        if (choice.finish_reason) finished.set(choice.index, choice.finish_reason);
      }
    }
    expect([...texts.keys()].sort()).toEqual([0, 1, 2, 3]);
    for (const [p, prompt] of prompts.entries())
      for (const choice of [0, 1]) expect(texts.get(p * 2 + choice)).toBe(completionOf(prompt, choice, MAX_TOKENS));
    expect([...finished.keys()].sort()).toEqual([0, 1, 2, 3]);
    // Relayed as the backend produced them: several events, not one folded answer.
    expect(events).toBeGreaterThan(prompts.length * 2);
  });

  it('the openai client streams a chat completion with n = 2: both choices get their text', async () => {
    const messages = [{ role: 'user' as const, content: 'stream two answers' }];
    const stream = await client.chat.completions.create({ model: 'sim-llm', messages, n: 2, max_tokens: MAX_TOKENS, stream: true });
    const texts = new Map<number, string>();
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      for (const choice of chunk.choices) texts.set(choice.index, (texts.get(choice.index) ?? '') + (choice.delta.content ?? ''));
    }
    expect([...texts.keys()].sort()).toEqual([0, 1]);
    for (const choice of [0, 1]) expect(texts.get(choice)).toBe(completionOf(JSON.stringify(messages), choice, MAX_TOKENS));
  });

  it('on the wire: one id, one summed usage event (include_usage) and exactly one data: [DONE], last', async () => {
    const response = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'sim-llm',
        prompt: ['alpha', 'beta', 'gamma'],
        n: 2,
        max_tokens: MAX_TOKENS,
        stream: true,
        stream_options: { include_usage: true },
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const events = (await response.text()).split('\n\n').filter((e) => e.startsWith('data: '));
    expect(events.filter((e) => e === 'data: [DONE]')).toHaveLength(1);
    expect(events.at(-1)).toBe('data: [DONE]');
    const payloads = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.slice(6)) as { id: string; choices: Array<{ index: number }>; usage?: { completion_tokens: number } });
    expect(new Set(payloads.map((p) => p.id)).size).toBe(1);
    const usage = payloads.filter((p) => p.usage);
    expect(usage).toHaveLength(1);
    expect(usage[0]!.choices).toEqual([]);
    expect(usage[0]!.usage!.completion_tokens).toBe(3 * 2 * MAX_TOKENS);
    expect(payloads.at(-1)).toBe(usage[0]);
    expect(new Set(payloads.flatMap((p) => p.choices.map((c) => c.index)))).toEqual(new Set([0, 1, 2, 3, 4, 5]));
  });
});
