import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionOf, embeddingOf } from '../tools/inference-backend/answers.js';
import { SimBackend } from './support/inference-backend.js';

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe('the simulated inference backend, as its own process', () => {
  let backend: SimBackend;

  beforeAll(async () => {
    backend = await SimBackend.start({ BATCHGATE_BACKEND_DIMENSIONS: '8' });
  });
  afterAll(() => backend?.stop());

  it('serves the official openai client: embeddings (base64 by default), completions and chat, correctly typed', async () => {
    const client = new OpenAI({ baseURL: `${backend.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const embeddings = await client.embeddings.create({ model: 'sim-embedding', input: ['x', 'y'] });
    expect(embeddings.data.map((d) => d.index)).toEqual([0, 1]);
    expect(embeddings.data[1]!.embedding).toEqual(embeddingOf('y', 8));
    const completion = await client.completions.create({ model: 'sim-llm', prompt: ['p'], max_tokens: 3 });
    expect(completion.choices[0]!.text).toBe(completionOf('p', 0, 3));
    const chat = await client.chat.completions.create({ model: 'sim-llm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(chat.choices[0]!.message.role).toBe('assistant');
    expect(chat.usage?.completion_tokens).toBe(2);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['sim-embedding', 'sim-llm']);
  });

  it('streams chunks over the service time and ends with [DONE]', async () => {
    const client = new OpenAI({ baseURL: `${backend.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'sim-llm',
      messages: [{ role: 'user', content: 'go' }],
      max_tokens: 12,
      stream: true,
    });
    let text = '';
    let events = 0;
    for await (const chunk of stream) {
      events++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(events).toBe(13);
    expect(text).toBe(completionOf(JSON.stringify([{ role: 'user', content: 'go' }]), 0, 12));
  });

  it('counts calls, items and tokens at GET /stats', async () => {
    const before = await backend.stats();
    await post(`${backend.url}/v1/embeddings`, { model: 'sim-embedding', input: ['aaaa', 'bbbbbbbb', 'c'] });
    const after = await backend.stats();
    expect(after.calls - before.calls).toBe(1);
    expect(after.items - before.items).toBe(3);
    expect(after.tokens - before.tokens).toBe(1 + 2 + 1);
  });

  it('answers bad requests 400 and unknown models 404 in OpenAI error shape', async () => {
    expect(await post(`${backend.url}/v1/completions`, { model: 'sim-llm' })).toMatchObject({
      status: 400,
      body: { error: { param: 'prompt' } },
    });
    expect(await post(`${backend.url}/v1/embeddings`, { model: 'nope', input: 'x' })).toMatchObject({
      status: 404,
      body: { error: { code: 'model_not_found' } },
    });
  });

  it('fails every call while POST /admin/fail says so, then serves again', async () => {
    expect((await post(`${backend.url}/admin/fail`, { for_ms: 60_000 })).status).toBe(200);
    const failed = await post(`${backend.url}/v1/embeddings`, { model: 'sim-embedding', input: 'x' });
    expect(failed).toMatchObject({ status: 503, body: { error: { code: 'backend_failure' } } });
    await backend.fail(0);
    expect((await post(`${backend.url}/v1/embeddings`, { model: 'sim-embedding', input: 'x' })).status).toBe(200);
    expect((await backend.stats()).failed).toBe(1);
  });
});

describe('the simulated backend settings', () => {
  it('fails every call at BATCHGATE_BACKEND_FAILURE_RATE=1', async () => {
    const backend = await SimBackend.start({ BATCHGATE_BACKEND_FAILURE_RATE: '1' });
    try {
      expect((await post(`${backend.url}/v1/embeddings`, { model: 'sim-embedding', input: 'x' })).status).toBe(503);
    } finally {
      await backend.stop();
    }
  });

  it('queues calls beyond its concurrency instead of serving them at once', async () => {
    const backend = await SimBackend.start({
      BATCHGATE_BACKEND_CONCURRENCY: '1',
      BATCHGATE_BACKEND_BASE_MS: '3000',
      BATCHGATE_BACKEND_VARIANCE: '0',
    });
    try {
      const calls = [1, 2].map(() => post(`${backend.url}/v1/embeddings`, { model: 'sim-embedding', input: 'x' }));
      let stats = await backend.stats();
      while (stats.calls < 2) stats = await backend.stats();
      expect(stats).toMatchObject({ in_flight: 1, queued: 1 });
      await Promise.all(calls);
    } finally {
      await backend.stop();
    }
  });

  it('refuses a bad setting at start, naming it (exit 78)', () => {
    const run = spawnSync(process.execPath, ['dist/tools/inference-backend/main.js', '--base-ms=soon'], { encoding: 'utf8' });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain('BATCHGATE_BACKEND_BASE_MS must be a number');
  });
});
